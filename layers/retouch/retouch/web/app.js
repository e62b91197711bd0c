// The Retouch page, task first: add photos, choose what to do in plain words (every setting under
// "Adjust", generated from GET /operations), start, see each photo's outcome, open a result full
// size to compare and to point at an eye or place a colour, re-run one photo, download.
import { downloadZip } from "./vendor/client-zip/index.js";
import { Api, ApiError, beginSignIn, filesFromDrop, followJob, forgetSignIn, fragment, loadConfig, signIn, signOut, upload } from "./api.js";
import { DEFAULT_LIMITS, checkFile, megabytes, safeName, uniqueName } from "./checks.js";
import { keepJob, keptJob, forgetJob } from "./keep.js";
import { paramWords, taskOrder, taskWords } from "./words.js";
import { openViewer, setUpViewer } from "./viewer.js";

const UPLOAD_CONCURRENCY = 4;
const MAX_IMAGES_PER_JOB = 1000;
const PREVIEW_MAX_SIDE = 1024;
const EXTENSIONS = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif" };
const WORKING = ["uploading", "queued"];

export const $ = (selector) => document.querySelector(selector);
export const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  return node;
};

export const state = {
  config: null,
  api: null,
  limits: DEFAULT_LIMITS,
  catalogue: new Map(), // operation name -> description from GET /operations
  order: [], // operation names in the order they are offered and applied
  chosen: new Set(), // operation names the person chose
  params: {}, // operation name -> its parameters (kept when a task is unchosen and chosen again)
  items: [],
  nextKey: 1,
  running: false,
  jobs: [], // the job ids this page shows (also in the address: #job=a,b)
  zipWaiting: false,
  previewToken: 0,
  previewTimer: null,
  previewAbort: null,
};

// --- start-up --------------------------------------------------------------------------------

function showAlert(message) {
  const box = $("#alert");
  box.textContent = message;
  box.hidden = !message;
}

async function main() {
  // a sign-in link opened in a tab that shows the page already: sign in with it
  window.addEventListener("hashchange", () => fragment().has("token") && location.reload());
  try {
    state.config = await loadConfig();
    const token = await signIn(state.config);
    if (!token) return showSignIn();
    state.api = new Api(state.config.api_url || location.origin, token);
    const catalogue = await state.api.operations();
    state.limits = { ...DEFAULT_LIMITS, ...(state.config.limits || {}), ...(catalogue.limits || {}) };
    for (const op of catalogue.operations) state.catalogue.set(op.name, op);
    state.order = taskOrder([...state.catalogue.keys()]);
    showAccount();
    setUpTasks(catalogue.output_formats);
    setUpPhotos();
    setUpRun();
    setUpViewer({ rerun, previewWithMarks });
    $("#app").hidden = false;
    document.body.dataset.readyAt = String(Math.round(performance.now()));
    document.body.dataset.ready = "true";
    await openFromAddress();
    window.addEventListener("hashchange", openFromAddress);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetSignIn();
      return showSignIn("Your sign-in is not valid any more.");
    }
    showAlert(`The page could not start: ${error.message}`);
  }
}

function showSignIn(reason = "") {
  $("#signin").hidden = false;
  $("#account").replaceChildren();
  const local = state.config?.auth?.mode !== "cognito";
  const text = $("#signin-text");
  if (local) {
    text.replaceChildren(
      reason ? `${reason} ` : "",
      "Open this page from the link ",
      el("code", { text: "retouch local" }),
      " prints: it ends in ",
      el("code", { text: "#token=…" }),
      ".",
    );
  } else {
    text.textContent = `${reason} Sign in with your Retouch account to process photos.`.trim();
  }
  const button = $("#signin-button");
  button.hidden = local;
  button.onclick = () => beginSignIn(state.config).catch((error) => showAlert(`Sign-in is not possible: ${error.message}`));
}

function showAccount() {
  const local = state.config.auth.mode !== "cognito";
  $("#account").replaceChildren(
    el("span", { class: "hint", text: local ? "Signed in on this computer" : "Signed in" }),
    el("button", { type: "button", class: "secondary", onclick: () => signOut(state.config) }, "Sign out"),
  );
}

// --- errors where the person is looking --------------------------------------------------------

/** Show `message` in `box` (next to `control`), mark the control, move focus to it. */
function fieldError(box, message, control = null, { focus = true } = {}) {
  box.textContent = message;
  box.hidden = !message;
  if (control) {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  if (message && focus) {
    const target = control || box;
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  }
}

function clearErrors() {
  for (const box of document.querySelectorAll(".field-error")) box.hidden = true;
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  showAlert("");
}

// --- tasks and their settings ----------------------------------------------------------------

function setUpTasks(formats) {
  const list = $("#task-list");
  for (const name of state.order) {
    const spec = state.catalogue.get(name);
    const words = taskWords(spec);
    state.params[name] = { ...defaults(name), ...words.preset };
    const id = `task-${name}`;
    const box = el("input", { type: "checkbox", id, value: name, "aria-describedby": `${id}-help` });
    box.addEventListener("change", () => {
      if (box.checked) state.chosen.add(name);
      else state.chosen.delete(name);
      fieldError($("#task-error"), "", null);
      renderOperations();
      schedulePreview();
    });
    list.append(el("div", { class: "task" }, box, el("label", { for: id, text: words.task }), el("small", { id: `${id}-help`, text: words.help })));
  }
  const format = $("#output-format");
  const formatNames = { auto: "The same format as each photo", jpeg: "JPEG", png: "PNG", webp: "WebP (smaller, for the web)", avif: "AVIF (smallest)" };
  for (const f of formats) format.append(el("option", { value: f, text: formatNames[f] || f.toUpperCase() }));
  format.value = "auto";
  format.addEventListener("change", () => schedulePreview());
  $("#output-quality").addEventListener("change", () => {
    checkQuality(false);
    schedulePreview();
  });
  renderOperations();
}

function defaults(opName) {
  const params = {};
  for (const p of state.catalogue.get(opName)?.params || []) if (p.default !== undefined && p.default !== null) params[p.name] = p.default;
  return params;
}

function visible(param, params) {
  if (!param.only_with) return true;
  return Object.entries(param.only_with).every(([other, values]) => values.includes(params[other]));
}

const chosenOps = () => state.order.filter((n) => state.chosen.has(n));

function renderOperations(focusId = null) {
  const list = $("#operations");
  list.replaceChildren();
  for (const name of chosenOps()) {
    const spec = state.catalogue.get(name);
    const params = el("div", { class: "params" });
    for (const param of spec.params) {
      if (!visible(param, state.params[name])) continue;
      params.append(paramControl(name, param));
    }
    list.append(el("li", { "data-op": name }, el("fieldset", {}, el("legend", { text: taskWords(spec).task }), params)));
  }
  if (!list.children.length) list.append(el("li", { class: "hint", text: "Choose what to do above; its settings appear here." }));
  if (focusId) document.getElementById(focusId)?.focus();
}

function numberWords(n) {
  return String(n);
}

function rangeWords(param) {
  if (param.type === "bool") return param.default ? "On unless you turn it off." : "";
  const bits = [];
  if (param.minimum !== undefined && param.maximum !== undefined) bits.push(`From ${numberWords(param.minimum)} to ${numberWords(param.maximum)}.`);
  else if (param.minimum !== undefined) bits.push(`At least ${numberWords(param.minimum)}.`);
  else if (param.maximum !== undefined) bits.push(`At most ${numberWords(param.maximum)}.`);
  if (param.default !== undefined && param.default !== null && param.type !== "choice") bits.push(`Usually ${numberWords(param.default)}.`);
  return bits.join(" ");
}

function paramControl(opName, param) {
  const id = `op-${opName}-${param.name}`;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const words = paramWords(opName, param);
  const params = state.params[opName];
  const value = params[param.name];
  const help = el("small", { id: helpId, text: [words.help, rangeWords(param)].filter(Boolean).join(" ") });
  const error = el("p", { id: errorId, class: "field-error", hidden: true });
  const described = `${helpId} ${errorId}`;
  if (words.perPhoto) {
    return el("div", { class: "param" }, el("p", { class: "param-label", text: words.label }), el("small", { text: words.help }));
  }
  const label = el("label", { for: id, text: words.label });
  let input;
  if (words.photoChoice) {
    input = el("select", { id, "aria-describedby": described });
    const names = state.items.filter((i) => i.status !== "rejected").map((i) => i.name);
    input.append(el("option", { value: "", text: names.length ? "Choose a photo" : "Add photos first" }));
    for (const n of names) input.append(el("option", { value: n, text: n, selected: n === value }));
  } else if (param.type === "choice") {
    input = el("select", { id, "aria-describedby": described });
    for (const c of param.choices) input.append(el("option", { value: c, text: words.choices[c] || c, selected: c === value }));
  } else if (param.type === "bool") {
    input = el("input", { id, type: "checkbox", "aria-describedby": described, checked: Boolean(value) });
    input.addEventListener("change", () => {
      params[param.name] = input.checked;
      schedulePreview();
    });
    return el("div", { class: "param checkbox" }, input, label, help, error);
  } else if (param.type === "int" || param.type === "float") {
    input = el("input", {
      id,
      type: "number",
      "aria-describedby": described,
      min: param.minimum,
      max: param.maximum,
      step: param.type === "int" ? 1 : "any",
      inputmode: param.type === "int" ? "numeric" : "decimal",
      value: value ?? "",
    });
  } else {
    const shown = Array.isArray(value) ? value.join(", ") : (value ?? "");
    const listId = words.suggestions.length ? `${id}-list` : undefined;
    input = el("input", { id, type: "text", "aria-describedby": described, value: shown, spellcheck: "false", list: listId });
    if (listId) {
      const datalist = el("datalist", { id: listId });
      for (const s of words.suggestions) datalist.append(el("option", { value: s }));
      help.after(datalist);
      return el("div", { class: "param" }, label, input, help, datalist, error);
    }
  }
  input.addEventListener("change", () => {
    const problem = paramProblem(param, input);
    fieldError(error, problem, input, { focus: false });
    if (problem) return;
    params[param.name] = readParam(param, input);
    // a choice can show or hide other parameters (only_with)
    const dependents = state.catalogue.get(opName).params.some((p) => p.only_with && param.name in p.only_with);
    if (dependents) renderOperations(id);
    schedulePreview();
  });
  return el("div", { class: "param" }, label, input, help, error);
}

/** What is wrong with a typed value, in plain words, or "". */
function paramProblem(param, input) {
  if (param.type !== "int" && param.type !== "float") return "";
  const raw = input.value.trim();
  if (raw === "") return param.default === undefined ? "" : "";
  const n = Number(raw);
  if (!Number.isFinite(n)) return "Type a number.";
  if (param.type === "int" && !Number.isInteger(n)) return "Type a whole number.";
  const { minimum: lo, maximum: hi } = param;
  if ((lo !== undefined && n < lo) || (hi !== undefined && n > hi)) {
    if (lo !== undefined && hi !== undefined) return `Choose a number from ${lo} to ${hi}; ${raw} is out of range.`;
    return lo !== undefined ? `Choose a number of at least ${lo}.` : `Choose a number of at most ${hi}.`;
  }
  return "";
}

function readParam(param, input) {
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (param.type === "int") return Number.parseInt(raw, 10);
  if (param.type === "float") return Number.parseFloat(raw);
  if (param.type === "numbers") return raw.split(/[\s,]+/).filter(Boolean).map(Number);
  return raw;
}

function checkQuality(focus) {
  const input = $("#output-quality");
  const n = Number(input.value);
  let problem = "";
  if (input.value.trim() !== "" && (!Number.isInteger(n) || n < 1 || n > 100)) problem = `Choose a whole number from 1 to 100; ${input.value} is out of range.`;
  let box = $("#output-quality-error");
  if (!box) {
    box = el("p", { id: "output-quality-error", class: "field-error", hidden: true });
    input.closest(".row").after(box);
    input.setAttribute("aria-describedby", "output-quality-help output-quality-error");
  }
  fieldError(box, problem, input, { focus });
  return !problem;
}

/** The first setting typed out of range, marked next to it (Adjust opened), or true when all are fine. */
function validateSettings() {
  for (const name of chosenOps()) {
    for (const param of state.catalogue.get(name).params) {
      const input = document.getElementById(`op-${name}-${param.name}`);
      if (!input) continue;
      const problem = paramProblem(param, input);
      if (problem) {
        $("#adjust").open = true;
        fieldError(document.getElementById(`op-${name}-${param.name}-error`), problem, input);
        return false;
      }
    }
  }
  if (!checkQuality(false)) {
    $("#adjust").open = true;
    checkQuality(true);
    return false;
  }
  return true;
}

/** A service error about a parameter ("red_eye: parameter 'strength' must be at most 1, got 5.0") shown next to it. */
function showServiceError(message) {
  const match = /^(\w+): parameter '(\w+)' (.*)$/s.exec(message);
  if (match) {
    const [, op, name, rest] = match;
    const input = document.getElementById(`op-${op}-${name}`);
    const spec = state.catalogue.get(op);
    const param = spec?.params.find((p) => p.name === name);
    const plain = rest.replace(/, got (.*)$/, "; it is $1").replace(/^./, (c) => c.toUpperCase());
    if (input && param) {
      $("#adjust").open = true;
      fieldError(document.getElementById(`op-${op}-${name}-error`), `${plain}.`.replace(/\.\.$/, "."), input);
      return;
    }
    if (spec) {
      const words = param ? paramWords(op, param).label : name;
      fieldError($("#task-error"), `${taskWords(spec).task}: ${words.toLowerCase()}: ${plain}`, $(`#task-${op}`));
      return;
    }
  }
  fieldError($("#start-error"), `The job could not start: ${message}`, $("#start"));
}

function photoPoints(item) {
  return {
    points: item.points?.length ? item.points.map((p) => p.slice()) : null,
    hints: item.hints?.length ? item.hints.map((h) => `${Math.round(h.x)},${Math.round(h.y)},${h.colour}`).join(";") : null,
  };
}

/** The operations as the API takes them (visible parameters with a value), with a photo's own points and colours. */
export function requestedOperations(item = null, base = null) {
  const ops = base
    ? base.map(({ op, params }) => ({ op, params: { ...params } }))
    : chosenOps().map((op) => {
        const spec = state.catalogue.get(op);
        const params = state.params[op];
        const out = {};
        for (const p of spec.params) {
          const v = params[p.name];
          if (v !== undefined && v !== null && v !== "" && visible(p, params) && !paramWords(op, p).perPhoto) out[p.name] = v;
        }
        return { op, params: out };
      });
  if (!item) return ops;
  const { points, hints } = photoPoints(item);
  if (points) {
    const red = ops.find((o) => o.op === "red_eye");
    if (red) red.params.points = points;
    else ops.unshift({ op: "red_eye", params: { points } });
  }
  if (hints) {
    const colour = ops.find((o) => o.op === "colorize");
    if (colour) Object.assign(colour.params, { mode: "hints", hints });
    else ops.splice(ops[0]?.op === "red_eye" ? 1 : 0, 0, { op: "colorize", params: { mode: "hints", hints } });
    const c = ops.find((o) => o.op === "colorize");
    delete c.params.reference;
  }
  return ops;
}

export function requestedOutput() {
  const quality = Number.parseInt($("#output-quality").value, 10);
  return { format: $("#output-format").value, quality: Number.isFinite(quality) ? quality : 88 };
}

// --- photos ----------------------------------------------------------------------------------

function setUpPhotos() {
  const formats = state.limits.formats.map((f) => ({ jpeg: "JPEG", heic: "HEIC", webp: "WebP" })[f] || f.toUpperCase());
  $("#limits").textContent = `${formats.join(", ")}; up to ${megabytes(state.limits.max_upload_bytes)} and ${Math.round(state.limits.max_pixels / 1e6)} megapixels each.`;
  for (const id of ["#file-input", "#folder-input"]) {
    const input = $(id);
    input.addEventListener("change", () => {
      addFiles([...input.files]);
      input.value = "";
    });
  }
  const zone = $("#dropzone");
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  document.addEventListener("dragleave", (e) => e.relatedTarget === null && zone.classList.remove("dragging"));
  document.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    addFiles(await filesFromDrop(e.dataTransfer));
  });
  $("#preview-source").addEventListener("change", () => schedulePreview());
}

async function addFiles(files) {
  const added = [];
  for (const file of files) {
    if (file.name.startsWith(".")) continue; // hidden files of a dropped folder
    const item = { key: state.nextKey++, file, name: file.webkitRelativePath || file.name, size: file.size, status: "checking", message: "", points: [], hints: [] };
    state.items.push(item);
    renderItem(item);
    added.push(item);
  }
  if (added.length) fieldError($("#photos-error"), "", $("#file-input"));
  updateSummary();
  // checked before anything is uploaded: format, size, pixels (from the header), a file cut short
  await Promise.all(
    added.map(async (item) => {
      const found = await checkFile(item.file, state.limits);
      if (found.error) {
        item.status = "rejected";
        item.message = `Not uploaded: ${found.error}.`;
      } else {
        Object.assign(item, { status: "ready", type: found.type, width: found.width, height: found.height });
      }
      renderItem(item);
    }),
  );
  updateSummary();
  refreshPreviewChoices();
  if (state.chosen.has("colorize")) renderOperations(); // the reference photo list
  const queue = added.filter((i) => i.status !== "rejected");
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await makeThumbnail(item);
  };
  await Promise.all([worker(), worker()]);
  refreshPreviewChoices();
}

const BROWSER_FORMATS = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif"];

async function makeThumbnail(item) {
  try {
    const bitmap = await createImageBitmap(item.file);
    [item.width, item.height] = [bitmap.width, bitmap.height];
    const scale = Math.min(1, 480 / Math.max(bitmap.width, bitmap.height));
    const canvas = el("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    item.thumbUrl = URL.createObjectURL(blob);
    item.decodable = true;
  } catch {
    item.decodable = false;
    // a format the browser reads and yet cannot decode is damaged: it would fail on the service too
    if (BROWSER_FORMATS.includes(item.type) && item.status === "ready") {
      item.status = "rejected";
      item.message = "Not uploaded: this photo is damaged (it cannot be read as an image).";
      updateSummary();
    }
  }
  renderItem(item);
}

function refreshPreviewChoices() {
  const select = $("#preview-source");
  const previous = select.value;
  const candidates = state.items.filter((i) => i.file && !["rejected", "skipped"].includes(i.status) && i.decodable !== false);
  select.replaceChildren();
  if (!candidates.length) {
    select.append(el("option", { value: "", text: "No photo yet" }));
    select.disabled = true;
    return;
  }
  for (const item of candidates) select.append(el("option", { value: String(item.key), text: item.name }));
  select.disabled = false;
  const first = candidates.find((i) => String(i.key) === previous) || candidates.find((i) => i.decodable) || candidates[0];
  select.value = String(first.key);
  if (String(first.key) !== previous) schedulePreview();
}

// --- preview ---------------------------------------------------------------------------------

function schedulePreview() {
  clearTimeout(state.previewTimer);
  state.previewTimer = setTimeout(renderPreview, 350);
}

async function previewInput(item) {
  if (item.previewBlob) return item.previewBlob;
  const bitmap = await createImageBitmap(item.file);
  const scale = Math.min(1, PREVIEW_MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = el("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  item.previewScale = canvas.width / bitmap.width;
  bitmap.close();
  item.previewBlob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  item.previewUrl = URL.createObjectURL(item.previewBlob);
  return item.previewBlob;
}

/** The photo's operations with its points and colours, on its 1024 px copy (POST /preview): a Blob. */
async function previewWithMarks(item, signal) {
  const blob = await previewInput(item);
  const s = item.previewScale || 1;
  const scaled = { ...item, points: item.points.map((p) => p.map((v) => v * s)), hints: item.hints.map((h) => ({ ...h, x: h.x * s, y: h.y * s })) };
  return state.api.preview(blob, requestedOperations(scaled, item.operations || null), requestedOutput(), signal);
}

async function renderPreview() {
  const status = $("#preview-status");
  const before = $("#preview-before");
  const after = $("#preview-after");
  const item = state.items.find((i) => String(i.key) === $("#preview-source").value);
  const token = ++state.previewToken;
  state.previewAbort?.abort();
  if (!item) {
    status.textContent = "Add a photo and choose what to do to see a preview.";
    before.hidden = after.hidden = true;
    return;
  }
  if (!state.chosen.size) {
    status.textContent = "Choose what to do to see a preview.";
    after.hidden = true;
    return;
  }
  let blob;
  try {
    blob = await previewInput(item);
  } catch {
    status.textContent = `${item.name} cannot be previewed: the browser cannot show it. Choose another photo.`;
    before.hidden = after.hidden = true;
    return;
  }
  before.src = item.previewUrl;
  before.alt = `Original: ${item.name}`;
  before.hidden = false;
  status.textContent = `Making the preview of ${item.name}…`;
  const abort = (state.previewAbort = new AbortController());
  try {
    const result = await state.api.preview(blob, requestedOperations(), requestedOutput(), abort.signal);
    if (token !== state.previewToken) return;
    if (after.dataset.url) URL.revokeObjectURL(after.dataset.url);
    after.dataset.url = URL.createObjectURL(result);
    after.src = after.dataset.url;
    after.alt = `After: ${item.name}`;
    after.hidden = false;
    await after.decode().catch(() => {});
    if (token !== state.previewToken) return;
    status.textContent = `Preview of ${item.name} ready (reduced to ${after.naturalWidth} × ${after.naturalHeight}).`;
    document.body.dataset.preview = "ready";
  } catch (error) {
    if (error.name === "AbortError" || token !== state.previewToken) return;
    after.hidden = true;
    if (error instanceof ApiError && error.status === 400) showServiceError(error.message);
    status.textContent = `No preview for ${item.name}: ${error.message}`;
  }
}

// --- the job ---------------------------------------------------------------------------------

function setUpRun() {
  $("#start").addEventListener("click", start);
  $("#download-all").addEventListener("click", downloadAll);
  $("#clear").addEventListener("click", () => {
    if (state.running) return;
    for (const item of state.items) for (const url of [item.thumbUrl, item.previewUrl, item.originalUrl]) url && URL.revokeObjectURL(url);
    state.items = [];
    state.jobs = [];
    writeAddress();
    $("#images").replaceChildren();
    clearErrors();
    refreshPreviewChoices();
    updateSummary();
    renderPreview();
  });
  $("#refresh-jobs").addEventListener("click", showRecentJobs);
  const startError = el("p", { id: "start-error", class: "field-error", hidden: true });
  $(".action-buttons").after(startError);
  $("#start").setAttribute("aria-describedby", "start-error");
  // leaving while photos are still uploading would lose them: the browser asks first
  window.addEventListener("beforeunload", (event) => {
    if (state.items.some((i) => i.status === "uploading")) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
}

function writeAddress() {
  const hash = fragment();
  if (state.jobs.length) hash.set("job", state.jobs.join(","));
  else hash.delete("job");
  const text = hash.toString().replace(/%2C/gi, ","); // job ids, comma separated, readable
  history.replaceState(null, "", `${location.pathname}${location.search}${text ? `#${text}` : ""}`);
}

function rememberJob(jobId) {
  if (!state.jobs.includes(jobId)) state.jobs.push(jobId);
  writeAddress();
}

async function start() {
  clearErrors();
  if (state.running) return;
  const ready = state.items.filter((i) => i.status === "ready");
  if (!ready.length) {
    const message = !state.items.length
      ? "Add photos first: drop them here, or choose them."
      : state.items.some((i) => i.status === "checking")
        ? "The photos are still being checked; press Start again in a moment."
        : "There is no photo ready to process: add more, or include the ones you skipped.";
    fieldError($("#photos-error"), message, $("#file-input"));
    return;
  }
  if (!state.chosen.size) {
    fieldError($("#task-error"), "Choose what to do first: one or more of these.", $("#task-list input"));
    return;
  }
  if (!validateSettings()) return;
  state.running = true;
  $("#start").disabled = true;
  $("#clear").disabled = true;
  document.body.dataset.startedAt = String(performance.now());
  $("#results-section").scrollIntoView({ block: "start" }); // where the photos now move
  try {
    for (let i = 0; i < ready.length; i += MAX_IMAGES_PER_JOB) await runJob(ready.slice(i, i + MAX_IMAGES_PER_JOB), requestedOperations());
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) showServiceError(error.message);
    else fieldError($("#start-error"), `The job could not start: ${error.message}`, $("#start"));
    for (const item of ready) if (["ready", "uploading"].includes(item.status) && !item.imageId) setStatus(item, "ready");
  } finally {
    state.running = false;
    $("#start").disabled = false;
    $("#clear").disabled = false;
    updateSummary();
  }
}

/** One job for these photos: create it, keep the originals in the browser, upload, follow. */
async function runJob(items, operations, { replaces = null } = {}) {
  const withMarks = items.some((i) => i.points?.length || i.hints?.length);
  if (withMarks && items.length === 1) operations = requestedOperations(items[0], operations);
  const created = await state.api.createJob({
    images: items.map((i) => ({ name: i.name, content_type: i.file.type.startsWith("image/") ? i.file.type : i.type, size: i.size })),
    operations,
    output: requestedOutput(),
  });
  rememberJob(created.job_id);
  const kept = {};
  created.uploads.forEach((target, n) => {
    const item = items[n];
    Object.assign(item, { jobId: created.job_id, imageId: target.image_id, operations, downloadUrl: null, outcome: null, format: null });
    kept[target.image_id] = { file: item.file, name: item.name, points: item.points, hints: item.hints, target };
    item.status = "uploading";
    renderItem(item);
  });
  keepJob(created.job_id, { images: kept, replaces });
  updateSummary();
  const finished = follow(created, items);
  await uploadAll(created.uploads.map((target, n) => [target, items[n]]));
  await finished;
}

/** Upload `[target, item]` pairs, a few at a time, each with its progress bar. */
async function uploadAll(queue) {
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [target, item] = next;
      setStatus(item, "uploading");
      try {
        await upload(target, item.file, (fraction) => setProgress(item, fraction));
        if (item.status === "uploading") setStatus(item, "queued");
      } catch (error) {
        setStatus(item, "failed", `The upload failed: ${error.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
}

/** Follow a job's photos until each is done or failed. */
function follow(created, items) {
  const byId = new Map(items.map((i) => [i.imageId, i]));
  return new Promise((resolve) => {
    const stop = followJob(state.api, created, {
      onEvent: (event) => {
        if (event.type === "image") applyImage(byId.get(event.image_id), event);
        updateSummary();
      },
      onStatus: (job) => {
        for (const image of job.images) applyImage(byId.get(image.image_id), image);
        updateSummary();
        const settled = items.every((i) => (i.status === "done" && i.downloadUrl) || i.status === "failed" || i.imageId && !byId.has(i.imageId));
        if (settled || (job.status === "complete" && items.every((i) => i.status !== "done" || i.downloadUrl))) {
          stop();
          resolve();
        }
      },
      onError: (error) => {
        fieldError($("#start-error"), `Lost track of the job: ${error.message}`, null, { focus: false });
        resolve();
      },
    });
  });
}

function applyImage(item, image) {
  if (!item || item.imageId !== image.image_id) return;
  if (image.outcome) item.outcome = image.outcome;
  if (image.output_name) item.outputName = image.output_name;
  if (image.status === "succeeded") {
    if (image.download_url) item.downloadUrl = image.download_url;
    if (image.format) item.format = image.format;
    if (image.width) [item.outWidth, item.outHeight] = [image.width, image.height];
    setStatus(item, "done");
  } else if (image.status === "failed") {
    setStatus(item, "failed", image.error || "This photo could not be processed.");
  } else if (image.status === "queued" && ["uploading", "pending"].includes(item.status)) {
    setStatus(item, "queued");
  }
}

function setStatus(item, status, message = "") {
  if (item.status === "done" && status !== "done") return; // a result is final (a re-run resets it first)
  item.status = status;
  if (message) item.message = message;
  renderItem(item);
  updateSummary();
}

function setProgress(item, fraction) {
  item.progress = fraction;
  const bar = item.node?.querySelector("progress");
  if (bar) bar.value = fraction;
}

function statusText(item) {
  switch (item.status) {
    case "checking":
      return "Checking…";
    case "ready":
      return item.decodable === false ? "Ready (the browser cannot show this format; the service can read it)." : "Ready.";
    case "skipped":
      return "Skipped: it will not be processed.";
    case "uploading":
      return "Uploading…";
    case "queued":
      return item.rerun ? "Re-running (as a new job)…" : "Being processed…";
    case "pending":
      return item.message || "Waiting for its upload.";
    case "done":
      return item.outcome?.summary || "Done.";
    default:
      return item.message;
  }
}

export function outputName(item) {
  if (item.outputName) return safeName(item.outputName);
  const stem = safeName(item.name).replace(/\.[^.]*$/, "") || "photo";
  return safeName(`${stem}.${EXTENSIONS[item.format] || "jpg"}`);
}

export function originalUrl(item) {
  return item.file && item.decodable !== false ? (item.originalUrl ||= URL.createObjectURL(item.file)) : null;
}

function renderItem(item) {
  const failed = item.status === "failed" || item.status === "rejected";
  if (!item.node) {
    item.node = el("li", { class: "image" });
    $("#images").append(item.node);
  }
  const node = item.node;
  const signature = JSON.stringify([item.status, item.message, item.downloadUrl, item.thumbUrl, item.decodable, item.outcome?.summary, item.rerun, item.reran, item.points?.length, item.hints?.length]);
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  node.className = `image ${item.status === "done" ? "done" : failed ? "failed" : item.status === "skipped" ? "skipped" : ""}`;
  const parts = [];
  const done = item.status === "done" && item.downloadUrl;
  if (done) parts.push(comparison(item));
  else if (item.thumbUrl) parts.push(el("img", { class: "thumb", src: item.thumbUrl, alt: "" }));
  parts.push(el("p", { class: "name", text: item.name }));
  parts.push(el("p", { class: "status", text: statusText(item) }));
  if (item.status === "done" && item.outWidth) parts.push(el("p", { class: "hint", text: `${item.outWidth} × ${item.outHeight} ${(item.format || "").toUpperCase()}` }));
  if (item.reran) parts.push(el("p", { class: "hint", text: "Re-run as a new job: the service cannot re-run a photo in place, so it was uploaded again." }));
  if (item.status === "uploading") parts.push(el("progress", { max: 1, value: item.progress || 0, "aria-label": `Uploading ${item.name}` }));
  const actions = el("div", { class: "actions" });
  if (item.status === "ready" || item.status === "skipped") {
    const skipped = item.status === "skipped";
    actions.append(
      el("button", { type: "button", class: "secondary", "data-action": "skip", "aria-label": `${skipped ? "Include" : "Skip"} ${item.name}`, onclick: () => toggleSkip(item) }, skipped ? "Include" : "Skip"),
    );
  }
  if (done) {
    actions.append(
      el("button", { type: "button", class: "secondary", "data-action": "open", "aria-label": `Open ${item.name} full size`, onclick: (e) => openViewer(item, e.currentTarget) }, "Open full size"),
      el("button", { type: "button", class: "secondary", "data-action": "download", "aria-label": `Download ${outputName(item)}`, onclick: () => downloadOne(item) }, "Download"),
    );
  }
  if ((item.status === "done" || item.status === "failed") && item.imageId) {
    actions.append(el("button", { type: "button", class: "secondary", "data-action": "rerun", "aria-label": `Re-run ${item.name} with the current settings`, onclick: () => rerun(item, { current: true }) }, "Re-run"));
  }
  if (actions.children.length) parts.push(actions);
  const error = el("p", { class: "field-error", hidden: true, id: `item-${item.key}-error` });
  parts.push(error);
  // keep keyboard focus on the control a rerender replaces
  const focused = node.contains(document.activeElement) ? document.activeElement.dataset.action || document.activeElement.className : null;
  node.replaceChildren(...parts);
  if (focused) (node.querySelector(`[data-action="${focused}"]`) || node.querySelector(`.${String(focused).split(" ")[0]}`))?.focus();
  $("#download-all").disabled = !state.items.some((i) => i.status === "done" && i.downloadUrl);
}

function toggleSkip(item) {
  item.status = item.status === "skipped" ? "ready" : "skipped";
  renderItem(item);
  updateSummary();
  refreshPreviewChoices();
}

function comparison(item) {
  const original = originalUrl(item);
  if (!original) return el("div", { class: "compare" }, el("img", { src: item.downloadUrl, alt: `Result: ${item.name}` }));
  const split = item.split ?? 50;
  const box = el(
    "div",
    { class: "compare" },
    el("img", { class: "before", src: original, alt: `Before: ${item.name}` }),
    el("img", { class: "after", src: item.downloadUrl, alt: `After: ${item.name}` }),
    el("span", { class: "divider", "aria-hidden": "true" }),
  );
  box.style.setProperty("--split", `${split}%`); // CSSOM, which the page's CSP allows (style attributes it does not)
  const slider = el("input", {
    type: "range",
    class: "compare-slider",
    min: 0,
    max: 100,
    step: 1,
    value: split,
    "aria-label": `Compare before and after: ${item.name}`,
    "aria-valuetext": `${split}% before, ${100 - split}% after`,
  });
  slider.addEventListener("input", () => {
    item.split = Number(slider.value);
    box.style.setProperty("--split", `${item.split}%`);
    slider.setAttribute("aria-valuetext", `${item.split}% before, ${100 - item.split}% after`);
  });
  return el("div", {}, box, el("div", { class: "compare-label", "aria-hidden": "true" }, el("span", { text: "Before" }), el("span", { text: "After" })), slider);
}

function updateSummary() {
  const total = state.items.length;
  const count = (...statuses) => state.items.filter((i) => statuses.includes(i.status)).length;
  const done = count("done");
  const failed = count("failed");
  const rejected = count("rejected");
  const ready = count("ready");
  const skipped = count("skipped");
  const working = count(...WORKING, "pending");
  $("#selection-summary").textContent = total ? `${total} file${total === 1 ? "" : "s"} added.` : "";
  const bar = $("#job-progress");
  bar.max = Math.max(1, total - skipped - rejected);
  bar.value = done + failed;
  const bits = [];
  if (done) bits.push(`${done} done`);
  if (failed) bits.push(`${failed} failed`);
  if (rejected) bits.push(`${rejected} not accepted`);
  if (working) bits.push(`${working} in progress`);
  if (ready) bits.push(`${ready} ready to start`);
  if (skipped) bits.push(`${skipped} skipped`);
  $("#job-summary").textContent = bits.length ? `${bits.join(", ")}.` : "No photos yet.";
  if (total && !working && done + failed + rejected + skipped + ready === total && done + failed) document.body.dataset.finishedAt = String(performance.now());
  if (state.zipWaiting && !working) {
    state.zipWaiting = false;
    downloadAll();
  }
}

// --- re-running one photo ----------------------------------------------------------------------

/**
 * Re-run one photo: the service cannot re-run an image in place, so this is a new one-photo job,
 * uploading the original again from the browser (kept for reloads); the card says so.
 */
async function rerun(item, { current = false } = {}) {
  const error = item.node.querySelector(".field-error");
  if (!item.file) {
    fieldError(error, "The original of this photo is no longer in this browser: add it again to re-run it.", item.node.querySelector('[data-action="rerun"]'));
    return false;
  }
  const replaces = { jobId: item.jobId, imageId: item.imageId };
  item.rerun = item.reran = true;
  item.status = "uploading";
  item.message = "";
  renderItem(item);
  try {
    await runJob([item], current ? requestedOperations() : item.operations || requestedOperations(), { replaces });
    return true;
  } catch (e) {
    item.status = "failed";
    item.message = `The re-run could not start: ${e.message}`;
    renderItem(item);
    return false;
  } finally {
    item.rerun = false;
    renderItem(item);
    updateSummary();
  }
}

// --- downloads -------------------------------------------------------------------------------

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: safeName(name), hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Fresh download URLs (they expire after a few minutes) for the jobs of these items. */
async function refreshUrls(items) {
  for (const jobId of new Set(items.map((i) => i.jobId))) {
    const job = await state.api.job(jobId);
    const byId = new Map(job.images.map((image) => [image.image_id, image]));
    for (const item of items) {
      const image = item.jobId === jobId && byId.get(item.imageId);
      if (image?.download_url) item.downloadUrl = image.download_url;
    }
  }
}

async function downloadOne(item) {
  const error = item.node.querySelector(".field-error");
  try {
    await refreshUrls([item]);
    const response = await fetch(item.downloadUrl);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    save(await response.blob(), outputName(item));
  } catch (e) {
    fieldError(error, `It could not be downloaded: ${e.message}`, item.node.querySelector('[data-action="download"]'));
  }
}

/** One ZIP of every result; while photos are still being processed, it waits for them (and says so). */
async function downloadAll() {
  const status = $("#download-status");
  const working = state.items.filter((i) => [...WORKING, "pending"].includes(i.status)).length;
  if (working) {
    state.zipWaiting = true;
    $("#download-all").disabled = true;
    status.textContent = `The ZIP will be saved when the ${working} photo${working === 1 ? "" : "s"} still in progress ${working === 1 ? "is" : "are"} finished.`;
    return;
  }
  const items = state.items.filter((i) => i.status === "done" && i.downloadUrl);
  if (!items.length) return;
  const button = $("#download-all");
  button.disabled = true;
  try {
    await refreshUrls(items);
    const taken = new Set();
    let count = 0;
    async function* files() {
      for (const item of items) {
        const response = await fetch(item.downloadUrl);
        if (!response.ok) throw new Error(`${item.name}: HTTP ${response.status}`);
        status.textContent = `Zipping ${++count} of ${items.length}…`;
        yield { name: uniqueName(outputName(item), taken), lastModified: new Date(), input: response };
      }
    }
    // client-zip streams: each output is fetched as the archive reaches it
    const zip = await downloadZip(files()).blob();
    save(zip, `retouch-${new Date().toISOString().slice(0, 10)}.zip`);
    status.textContent = `Saved all ${items.length} result${items.length === 1 ? "" : "s"} as one ZIP.`;
  } catch (error) {
    status.textContent = `The ZIP could not be made: ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

// --- jobs in the address, earlier jobs -------------------------------------------------------------

async function openFromAddress() {
  const ids = (fragment().get("job") || "").split(",").filter(Boolean);
  for (const id of ids) if (!state.items.some((i) => i.jobId === id)) await reopen(id);
}

async function showRecentJobs() {
  const list = $("#recent-jobs");
  try {
    const { jobs } = await state.api.jobs();
    list.replaceChildren();
    if (!jobs.length) list.append(el("li", { text: "No jobs yet." }));
    for (const job of jobs) {
      const when = new Date(job.created_at).toLocaleString();
      const photos = `${job.total} photo${job.total === 1 ? "" : "s"}`;
      const state_ = job.status === "running" ? "still running" : "finished";
      // the photos' names, when this browser sent them (the list has only counts)
      const names = Object.values((await keptJob(job.job_id))?.images || {}).map((i) => i.name);
      const which = names.length ? `: ${names.slice(0, 3).join(", ")}${names.length > 3 ? ` and ${names.length - 3} more` : ""}` : "";
      const shown = state.jobs.includes(job.job_id) ? " (shown above)" : "";
      list.append(
        el(
          "li",
          {},
          el("span", { text: `${when}: ${photos}, ${job.succeeded} done, ${job.failed} failed (${state_})${which}${shown}` }),
          el("button", { type: "button", class: "secondary", "aria-label": `Open the job of ${when}`, onclick: () => reopen(job.job_id, true) }, "Open"),
          job.status === "running"
            ? el("button", { type: "button", class: "secondary", "aria-label": `Stop the job of ${when}`, onclick: () => stopJob(job.job_id) }, "Stop")
            : "",
          el("button", { type: "button", class: "secondary", "aria-label": `Delete the job of ${when}`, onclick: () => deleteJob(job.job_id, when) }, "Delete"),
        ),
      );
    }
  } catch (error) {
    list.replaceChildren(el("li", { class: "field-error", text: `Earlier jobs could not be loaded: ${error.message}` }));
  }
}

/** A message about earlier jobs, beside their list (where the person pressed Stop or Delete). */
function recentStatus(message) {
  const box = $("#recent-status");
  box.textContent = message;
  box.className = /could not/.test(message) ? "field-error" : "hint";
}

async function stopJob(jobId) {
  try {
    const job = await state.api.cancel(jobId);
    recentStatus(`Stopped: the photos not processed yet will not be (${job.succeeded} were already done).`);
    await showRecentJobs();
  } catch (error) {
    recentStatus(`The job could not be stopped: ${error.message}`);
  }
}

async function deleteJob(jobId, when) {
  if (!window.confirm(`Delete the job of ${when}? Its photos and results are removed from the service for good.`)) return;
  try {
    await state.api.deleteJob(jobId);
    forgetJob(jobId);
    for (const item of state.items.filter((i) => i.jobId === jobId)) item.node?.remove();
    state.items = state.items.filter((item) => item.jobId !== jobId);
    state.jobs = state.jobs.filter((id) => id !== jobId);
    writeAddress();
    updateSummary();
    recentStatus("Deleted: the job's photos and results are gone from the service.");
    await showRecentJobs();
  } catch (error) {
    recentStatus(`The job could not be deleted: ${error.message}`);
  }
}

/** Show a job's photos and results (with the originals this browser kept: comparisons, re-runs). */
async function reopen(jobId, scroll = false) {
  try {
    const job = await state.api.job(jobId);
    const kept = await keptJob(jobId);
    rememberJob(jobId);
    const items = [];
    const resume = []; // uploads the page was closed during: sent again, from the kept originals
    for (const image of job.images) {
      let item = state.items.find((i) => i.jobId === jobId && i.imageId === image.image_id);
      const replaced = kept?.replaces && state.items.find((i) => i.jobId === kept.replaces.jobId && i.imageId === kept.replaces.imageId);
      if (!item && replaced) item = Object.assign(replaced, { jobId, imageId: image.image_id, status: "queued", downloadUrl: null, outcome: null, node: replaced.node });
      if (!item) {
        const own = kept?.images?.[image.image_id];
        item = { key: state.nextKey++, name: image.name, jobId, imageId: image.image_id, status: "queued", message: "", points: own?.points || [], hints: own?.hints || [] };
        if (own?.file) Object.assign(item, { file: own.file, size: own.file.size, type: own.file.type, decodable: true });
        state.items.push(item);
      }
      item.operations = job.operations.map((o) => ({ op: o.op, params: { ...(o.params || {}) } }));
      const own = kept?.images?.[image.image_id];
      if (image.status === "pending" && job.status !== "complete" && own?.file && own.target) {
        resume.push([own.target, item]);
      } else if (image.status === "pending") {
        item.status = "pending";
        item.message = job.status === "complete" ? "Never uploaded." : "Waiting for its upload (it was being sent from another tab or browser).";
      }
      applyImage(item, image);
      renderItem(item);
      items.push(item);
    }
    updateSummary();
    if (job.status !== "complete") {
      follow({ job_id: jobId, websocket_url: job.websocket_url }, items);
      await uploadAll(resume);
    }
    if (scroll) $("#results-section").scrollIntoView({ block: "start" });
  } catch (error) {
    fieldError($("#start-error"), `The job ${jobId} could not be opened: ${error.message}`, null, { focus: false });
  }
}

main();

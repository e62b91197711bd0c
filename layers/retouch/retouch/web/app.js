// The Retouch page: drop photos, choose operations (forms generated from GET /operations),
// preview one photo, start a job, watch each photo finish, compare, download one or all (ZIP).
import { downloadZip } from "./vendor/client-zip/index.js";
import { Api, ApiError, beginSignIn, filesFromDrop, followJob, loadConfig, signIn, signOut, sniff, upload } from "./api.js";

const PRESETS = [
  {
    id: "portrait",
    name: "Portrait touch-up",
    operations: [
      { op: "red_eye", params: {} },
      { op: "teeth_whitening", params: {} },
      { op: "contrast", params: { method: "auto" } },
    ],
    output: { format: "auto", quality: 88 },
  },
  {
    id: "old-photo",
    name: "Old photo",
    operations: [
      { op: "colorize", params: { mode: "auto" } },
      { op: "contrast", params: { method: "clahe" } },
    ],
    output: { format: "auto", quality: 88 },
  },
  {
    id: "web-thumbnails",
    name: "Web thumbnails",
    operations: [{ op: "thumbnail", params: { width: 512, height: 512, fit: "cover" } }],
    output: { format: "webp", quality: 82 },
  },
  {
    id: "social-crop",
    name: "Social crop",
    operations: [{ op: "crop", params: { aspect: "4:5", gravity: "face" } }],
    output: { format: "auto", quality: 88 },
  },
];
const DEFAULT_PRESET = "portrait";
const UPLOAD_CONCURRENCY = 4;
const MAX_IMAGES_PER_JOB = 1000;
const PREVIEW_MAX_SIDE = 1024;
const EXTENSIONS = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif" };

const $ = (selector) => document.querySelector(selector);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const humanise = (name) => name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

const state = {
  config: null,
  api: null,
  catalogue: new Map(), // operation name -> description from GET /operations
  operations: [], // [{op, params}] in order
  items: [], // one per photo (or per output of a reopened job)
  nextKey: 1,
  running: false,
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
  try {
    state.config = await loadConfig();
    const token = await signIn(state.config);
    if (!token) return showSignIn();
    state.api = new Api(state.config.api_url || location.origin, token);
    showAccount();
    const catalogue = await state.api.operations();
    for (const op of catalogue.operations) state.catalogue.set(op.name, op);
    setUpOperations(catalogue.output_formats);
    setUpPhotos();
    setUpRun();
    $("#app").hidden = false;
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showSignIn("Your sign-in is not valid any more.");
    showAlert(`The page could not start: ${error.message}`);
  }
}

function showSignIn(reason = "") {
  $("#signin").hidden = false;
  const local = state.config?.auth?.mode !== "cognito";
  $("#signin-text").textContent = local
    ? `${reason} Open this page from the link \`retouch local\` prints (it ends in ?token=…).`.trim()
    : `${reason} Sign in with your Retouch account to process photos.`.trim();
  const button = $("#signin-button");
  button.hidden = local;
  button.onclick = () => beginSignIn(state.config);
}

function showAccount() {
  const box = $("#account");
  const local = state.config.auth.mode !== "cognito";
  box.append(
    el("span", { class: "hint", text: local ? "Signed in with a local token" : "Signed in" }),
    el("button", { type: "button", class: "secondary", onclick: () => signOut(state.config) }, "Sign out"),
  );
}

// --- operations --------------------------------------------------------------------------------

function setUpOperations(formats) {
  const preset = $("#preset");
  for (const p of PRESETS) preset.append(el("option", { value: p.id, text: p.name }));
  preset.append(el("option", { value: "custom", text: "Custom" }));
  preset.addEventListener("change", () => preset.value !== "custom" && applyPreset(preset.value));

  const add = $("#add-op");
  for (const op of state.catalogue.values()) add.append(el("option", { value: op.name, text: humanise(op.name) }));
  $("#add-op-button").addEventListener("click", () => {
    state.operations.push({ op: add.value, params: defaults(add.value) });
    changed({ structure: true, focus: [state.operations.length - 1, "first"] });
  });

  const format = $("#output-format");
  for (const f of formats) format.append(el("option", { value: f, text: f === "auto" ? "Same as each photo" : f.toUpperCase() }));
  format.addEventListener("change", () => changed());
  $("#output-quality").addEventListener("change", () => changed());
  applyPreset(DEFAULT_PRESET);
}

function defaults(opName) {
  const params = {};
  for (const p of state.catalogue.get(opName)?.params || []) if (p.default !== undefined && p.default !== null) params[p.name] = p.default;
  return params;
}

function applyPreset(id) {
  const preset = PRESETS.find((p) => p.id === id);
  state.operations = preset.operations
    .filter((o) => state.catalogue.has(o.op))
    .map((o) => ({ op: o.op, params: { ...defaults(o.op), ...o.params } }));
  $("#preset").value = id;
  $("#output-format").value = preset.output.format;
  $("#output-quality").value = preset.output.quality;
  renderOperations();
  schedulePreview();
}

/** Something the user edited: the preset becomes "Custom", the preview refreshes. */
function changed({ structure = false, focus = null } = {}) {
  $("#preset").value = "custom";
  if (structure) renderOperations(focus);
  schedulePreview();
}

function visible(param, params) {
  if (!param.only_with) return true;
  return Object.entries(param.only_with).every(([other, values]) => values.includes(params[other]));
}

function renderOperations(focus = null) {
  const list = $("#operations");
  list.replaceChildren();
  state.operations.forEach((operation, index) => {
    const spec = state.catalogue.get(operation.op);
    const title = `${index + 1}. ${humanise(operation.op)}`;
    const params = el("div", { class: "params" });
    for (const param of spec.params) {
      if (!visible(param, operation.params)) continue;
      params.append(paramControl(operation, index, param));
    }
    const name = humanise(operation.op);
    const last = state.operations.length - 1;
    const move = (delta) => () => {
      const [moved] = state.operations.splice(index, 1);
      state.operations.splice(index + delta, 0, moved);
      changed({ structure: true, focus: [index + delta, delta < 0 ? "up" : "down"] });
    };
    const actions = el(
      "div",
      { class: "op-actions" },
      el("button", { type: "button", class: "secondary", "data-action": "up", "aria-label": `Move ${name} up`, disabled: index === 0, onclick: move(-1) }, "↑ Up"),
      el("button", { type: "button", class: "secondary", "data-action": "down", "aria-label": `Move ${name} down`, disabled: index === last, onclick: move(1) }, "↓ Down"),
      el(
        "button",
        {
          type: "button",
          class: "secondary",
          "data-action": "remove",
          "aria-label": `Remove ${name}`,
          onclick: () => {
            state.operations.splice(index, 1);
            changed({ structure: true, focus: state.operations.length ? [Math.min(index, state.operations.length - 1), "remove"] : null });
            if (!state.operations.length) $("#add-op").focus();
          },
        },
        "Remove",
      ),
    );
    const item = el(
      "li",
      { "data-op": operation.op },
      el("fieldset", {}, el("legend", { text: title }), el("p", { class: "op-summary", text: spec.summary }), params, actions),
    );
    list.append(item);
  });
  if (focus) {
    const [index, what] = focus;
    const item = list.children[index];
    const target = item && (what === "first" ? item.querySelector("input, select") : item.querySelector(`[data-action="${what}"]:not([disabled])`));
    (target || item?.querySelector("button:not([disabled])"))?.focus();
  }
}

function paramControl(operation, index, param) {
  const id = `op-${index}-${param.name}`;
  const helpId = `${id}-help`;
  const value = operation.params[param.name];
  const label = el("label", { for: id, text: humanise(param.name) });
  const help = el("small", { id: helpId, text: describeParam(param) });
  let input;
  if (param.type === "choice") {
    input = el("select", { id, "aria-describedby": helpId });
    for (const c of param.choices) input.append(el("option", { value: c, text: c, selected: c === value }));
  } else if (param.type === "bool") {
    input = el("input", { id, type: "checkbox", "aria-describedby": helpId, checked: Boolean(value) });
    return el("div", { class: "param checkbox" }, input, label, help);
  } else if (param.type === "int" || param.type === "float") {
    input = el("input", {
      id,
      type: "number",
      "aria-describedby": helpId,
      min: param.minimum,
      max: param.maximum,
      step: param.type === "int" ? 1 : "any",
      inputmode: param.type === "int" ? "numeric" : "decimal",
      value: value ?? "",
    });
  } else {
    const shown = Array.isArray(value) ? value.join(",") : (value ?? "");
    input = el("input", { id, type: "text", "aria-describedby": helpId, value: shown, spellcheck: "false" });
  }
  input.addEventListener("change", () => {
    operation.params[param.name] = readParam(param, input);
    // a choice can show or hide other parameters (only_with)
    const dependents = state.catalogue.get(operation.op).params.some((p) => p.only_with && param.name in p.only_with);
    changed({ structure: dependents, focus: dependents ? null : undefined });
    if (dependents) document.getElementById(id)?.focus();
  });
  return el("div", { class: "param" }, label, input, help);
}

function describeParam(param) {
  const bits = [param.help];
  if (param.minimum !== undefined && param.maximum !== undefined) bits.push(`${param.minimum} to ${param.maximum}.`);
  if (param.default !== undefined && param.default !== null) bits.push(`Default ${param.default}.`);
  return bits.filter(Boolean).join(" ");
}

function readParam(param, input) {
  if (param.type === "bool") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (param.type === "int") return Number.parseInt(raw, 10);
  if (param.type === "float") return Number.parseFloat(raw);
  if (param.type === "numbers") return raw.split(/[\s,]+/).filter(Boolean).map(Number);
  return raw;
}

/** The operations as the API takes them: visible parameters with a value. */
function requestedOperations() {
  return state.operations.map(({ op, params }) => {
    const spec = state.catalogue.get(op);
    const out = {};
    for (const p of spec.params) {
      const v = params[p.name];
      if (v !== undefined && v !== null && v !== "" && visible(p, params)) out[p.name] = v;
    }
    return { op, params: out };
  });
}

function requestedOutput() {
  const quality = Number.parseInt($("#output-quality").value, 10);
  return { format: $("#output-format").value, quality: Number.isFinite(quality) ? quality : 88 };
}

// --- photos ----------------------------------------------------------------------------------

function setUpPhotos() {
  const input = $("#file-input");
  input.addEventListener("change", () => {
    addFiles([...input.files]);
    input.value = "";
  });
  const folder = $("#folder-input");
  folder.addEventListener("change", () => {
    addFiles([...folder.files]);
    folder.value = "";
  });
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
    const item = {
      key: state.nextKey++,
      file,
      name: file.webkitRelativePath || file.name,
      size: file.size,
      status: "checking",
      message: "",
      type: "",
    };
    state.items.push(item);
    renderItem(item);
    added.push(item);
  }
  updateSummary();
  // sniff first (fast), so bad files are flagged before anything is uploaded
  await Promise.all(
    added.map(async (item) => {
      const found = await sniff(item.file);
      if (found.error) {
        item.status = "rejected";
        item.message = `not uploaded: ${found.error}`;
      } else {
        item.status = "ready";
        item.type = found.type;
      }
      renderItem(item);
    }),
  );
  updateSummary();
  refreshPreviewChoices();
  // thumbnails, a few at a time, so a big drop stays responsive
  const queue = added.filter((i) => i.status !== "rejected");
  const worker = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) await makeThumbnail(item);
  };
  await Promise.all([worker(), worker()]);
  refreshPreviewChoices();
}

async function makeThumbnail(item) {
  try {
    const bitmap = await createImageBitmap(item.file);
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
    item.decodable = false; // the service decides (HEIC, a corrupt file...): the result will say
  }
  renderItem(item);
}

function refreshPreviewChoices() {
  const select = $("#preview-source");
  const previous = select.value;
  const candidates = state.items.filter((i) => i.file && i.status !== "rejected");
  select.replaceChildren();
  if (!candidates.length) {
    select.append(el("option", { value: "", text: "Add photos first" }));
    select.disabled = true;
    return;
  }
  for (const item of candidates) select.append(el("option", { value: String(item.key), text: item.name }));
  select.disabled = false;
  const keep = candidates.find((i) => String(i.key) === previous && i.decodable !== false);
  const first = keep || candidates.find((i) => i.decodable) || candidates.find((i) => i.decodable !== false) || candidates[0];
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
  bitmap.close();
  item.previewBlob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  item.previewUrl = URL.createObjectURL(item.previewBlob);
  return item.previewBlob;
}

async function renderPreview() {
  const status = $("#preview-status");
  const before = $("#preview-before");
  const after = $("#preview-after");
  const item = state.items.find((i) => String(i.key) === $("#preview-source").value);
  const token = ++state.previewToken;
  state.previewAbort?.abort();
  if (!item) {
    status.textContent = "Add a photo to see a preview.";
    return;
  }
  if (!state.operations.length) {
    status.textContent = "Add an operation to see a preview.";
    after.hidden = true;
    return;
  }
  let blob;
  try {
    blob = await previewInput(item);
  } catch {
    status.textContent = `${item.name} cannot be previewed: the browser cannot read it as an image. Choose another photo.`;
    before.hidden = after.hidden = true;
    return;
  }
  before.src = item.previewUrl;
  before.alt = `Original: ${item.name}`;
  before.hidden = false;
  status.textContent = `Rendering the preview of ${item.name}…`;
  const abort = (state.previewAbort = new AbortController());
  const started = performance.now();
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
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    status.textContent = `Preview of ${item.name} ready (${after.naturalWidth} × ${after.naturalHeight}, ${seconds} s).`;
    document.body.dataset.preview = "ready";
  } catch (error) {
    if (error.name === "AbortError" || token !== state.previewToken) return;
    after.hidden = true;
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
    $("#images").replaceChildren();
    refreshPreviewChoices();
    updateSummary();
    $("#preview-status").textContent = "Add a photo to see a preview.";
    $("#preview-before").hidden = $("#preview-after").hidden = true;
  });
  $("#refresh-jobs").addEventListener("click", showRecentJobs);
}

async function start() {
  showAlert("");
  const ready = state.items.filter((i) => i.status === "ready");
  if (state.running) return;
  if (!ready.length) {
    showAlert(state.items.length ? "There are no new photos to process." : "Add photos first: drop them here or choose them.");
    return;
  }
  if (!state.operations.length) {
    showAlert("Choose at least one operation (or a preset) first.");
    return;
  }
  state.running = true;
  $("#start").disabled = true;
  $("#clear").disabled = true;
  document.body.dataset.startedAt = String(performance.now());
  try {
    for (let i = 0; i < ready.length; i += MAX_IMAGES_PER_JOB) await runJob(ready.slice(i, i + MAX_IMAGES_PER_JOB));
  } catch (error) {
    showAlert(`The job could not start: ${error.message}`);
    for (const item of ready) if (item.status === "ready" || item.status === "uploading") setStatus(item, "ready");
  } finally {
    state.running = false;
    $("#start").disabled = false;
    $("#clear").disabled = false;
  }
}

async function runJob(items) {
  const created = await state.api.createJob({
    images: items.map((i) => ({ name: i.name, content_type: i.file.type.startsWith("image/") ? i.file.type : i.type, size: i.size })),
    operations: requestedOperations(),
    output: requestedOutput(),
  });
  const byId = new Map();
  created.uploads.forEach((target, n) => {
    const item = items[n];
    item.jobId = created.job_id;
    item.imageId = target.image_id;
    byId.set(target.image_id, item);
    setStatus(item, "uploading");
  });
  updateSummary();
  const finished = new Promise((resolve) => {
    const stop = followJob(state.api, created, {
      onEvent: (event) => {
        if (event.type === "image") applyImage(byId.get(event.image_id), event);
        if (event.type === "job") updateSummary();
      },
      onStatus: (job) => {
        for (const image of job.images) applyImage(byId.get(image.image_id), image);
        updateSummary();
        const settled = items.every((i) => (i.status === "done" && i.downloadUrl) || i.status === "failed");
        if (settled || (job.status === "complete" && items.every((i) => i.status !== "done" || i.downloadUrl))) {
          state.stopFollowing?.();
          resolve();
        }
      },
      onError: (error) => {
        showAlert(`Lost track of the job: ${error.message}`);
        resolve();
      },
    });
    state.stopFollowing = stop;
  });
  // uploads, a few at a time, each with its own progress bar
  const queue = created.uploads.map((target, n) => [target, items[n]]);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [target, item] = next;
      try {
        await upload(target, item.file, (fraction) => setProgress(item, fraction));
        if (item.status === "uploading") setStatus(item, "queued");
      } catch (error) {
        setStatus(item, "failed", `the upload failed: ${error.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, worker));
  await finished;
}

function applyImage(item, image) {
  if (!item) return;
  if (image.status === "succeeded") {
    if (image.download_url && !item.downloadUrl) item.downloadUrl = image.download_url; // fresh ones when downloading
    if (image.format) item.format = image.format;
    if (image.width) [item.width, item.height] = [image.width, image.height];
    setStatus(item, "done");
  } else if (image.status === "failed") {
    setStatus(item, "failed", image.error || "this photo could not be processed");
  } else if (image.status === "queued" && item.status === "uploading") {
    setStatus(item, "queued");
  }
}

function setStatus(item, status, message = "") {
  if (item.status === "done" && status !== "done") return; // a result is final
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
      return "checking…";
    case "ready":
      return item.decodable === false ? "ready (no thumbnail: the browser cannot show this file)" : "ready";
    case "uploading":
      return "uploading";
    case "queued":
      return "queued";
    case "done":
      return "done";
    default:
      return item.message;
  }
}

function outputName(item) {
  const stem = item.name.split("/").pop().replace(/\.[^.]*$/, "") || "photo";
  return `${stem}.${EXTENSIONS[item.format] || "jpg"}`;
}

function renderItem(item) {
  const failed = item.status === "failed" || item.status === "rejected";
  if (!item.node) {
    item.node = el("li", { class: "image" });
    $("#images").append(item.node);
  }
  const node = item.node;
  const signature = JSON.stringify([item.status, item.message, Boolean(item.downloadUrl), item.width, item.thumbUrl, item.decodable]);
  if (node.dataset.signature === signature) return;
  node.dataset.signature = signature;
  node.className = `image ${item.status === "done" ? "done" : failed ? "failed" : ""}`;
  const parts = [];
  if (item.status === "done" && item.downloadUrl) {
    parts.push(comparison(item));
  } else if (item.thumbUrl) {
    parts.push(el("img", { class: "thumb", src: item.thumbUrl, alt: "" }));
  }
  parts.push(el("p", { class: "name", text: item.name }));
  parts.push(el("p", { class: "status", text: statusText(item) }));
  if (item.status === "done" && item.width) parts.push(el("p", { class: "hint", text: `${item.width} × ${item.height} ${(item.format || "").toUpperCase()}` }));
  if (item.status === "uploading") {
    parts.push(el("progress", { max: 1, value: item.progress || 0, "aria-label": `Uploading ${item.name}` }));
  }
  if (item.status === "done" && item.downloadUrl) {
    parts.push(
      el(
        "div",
        { class: "actions" },
        el("button", { type: "button", class: "secondary", "aria-label": `Download ${outputName(item)}`, onclick: () => downloadOne(item) }, "Download"),
      ),
    );
  }
  // keep keyboard focus on the slider while a rerender replaces it
  const focused = node.contains(document.activeElement) ? document.activeElement.className : null;
  node.replaceChildren(...parts);
  if (focused) node.querySelector(`.${focused.split(" ")[0]}`)?.focus();
  $("#download-all").disabled = !state.items.some((i) => i.status === "done" && i.downloadUrl);
}

function comparison(item) {
  const after = el("img", { class: "after", src: item.downloadUrl, alt: `After: ${item.name}` });
  const original = item.file ? (item.originalUrl ||= URL.createObjectURL(item.file)) : null;
  if (!original || item.decodable === false) {
    return el("div", { class: "compare" }, el("img", { src: item.downloadUrl, alt: `Result: ${item.name}` }));
  }
  const split = item.split ?? 50;
  const box = el(
    "div",
    { class: "compare" },
    el("img", { class: "before", src: original, alt: `Before: ${item.name}` }),
    after,
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
  return el(
    "div",
    {},
    box,
    el("div", { class: "compare-label", "aria-hidden": "true" }, el("span", { text: "Before" }), el("span", { text: "After" })),
    slider,
  );
}

function updateSummary() {
  const total = state.items.length;
  const done = state.items.filter((i) => i.status === "done").length;
  const failed = state.items.filter((i) => i.status === "failed" || i.status === "rejected").length;
  const ready = state.items.filter((i) => i.status === "ready").length;
  const working = state.items.filter((i) => ["uploading", "queued"].includes(i.status)).length;
  $("#selection-summary").textContent = total ? `${total} file${total === 1 ? "" : "s"} added.` : "";
  const bar = $("#job-progress");
  bar.max = Math.max(1, total);
  bar.value = done + failed;
  const bits = [];
  if (done) bits.push(`${done} done`);
  if (failed) bits.push(`${failed} failed`);
  if (working) bits.push(`${working} in progress`);
  if (ready) bits.push(`${ready} ready to start`);
  $("#job-summary").textContent = bits.join(", ");
  if (total && !working && done + failed === total) document.body.dataset.finishedAt = String(performance.now());
}

// --- downloads -------------------------------------------------------------------------------

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name, hidden: true });
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
  try {
    await refreshUrls([item]);
    const response = await fetch(item.downloadUrl);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    save(await response.blob(), outputName(item));
  } catch (error) {
    showAlert(`${item.name} could not be downloaded: ${error.message}`);
  }
}

async function downloadAll() {
  const items = state.items.filter((i) => i.status === "done" && i.downloadUrl);
  if (!items.length) return;
  const button = $("#download-all");
  button.disabled = true;
  const summary = $("#job-summary");
  try {
    await refreshUrls(items);
    const taken = new Set();
    const unique = (name) => {
      let candidate = name;
      for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = name.replace(/(\.[^.]*)?$/, `-${n}$1`);
      taken.add(candidate.toLowerCase());
      return candidate;
    };
    let count = 0;
    async function* files() {
      for (const item of items) {
        const response = await fetch(item.downloadUrl);
        if (!response.ok) throw new Error(`${item.name}: HTTP ${response.status}`);
        summary.textContent = `Zipping ${++count} of ${items.length}…`;
        yield { name: unique(outputName(item)), lastModified: new Date(), input: response };
      }
    }
    // client-zip streams: each output is fetched as the archive reaches it
    const zip = await downloadZip(files()).blob();
    save(zip, `retouch-${new Date().toISOString().slice(0, 10)}.zip`);
    summary.textContent = `Saved ${items.length} result${items.length === 1 ? "" : "s"} as one ZIP.`;
  } catch (error) {
    showAlert(`The ZIP could not be made: ${error.message}`);
  } finally {
    button.disabled = false;
  }
}

// --- recent jobs -----------------------------------------------------------------------------

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
      list.append(
        el(
          "li",
          {},
          el("span", { text: `${when}: ${photos}, ${job.succeeded} done, ${job.failed} failed (${state_})` }),
          el("button", { type: "button", class: "secondary", "aria-label": `Open the job of ${when}`, onclick: () => reopen(job.job_id) }, "Open"),
          job.status === "running"
            ? el("button", { type: "button", class: "secondary", "aria-label": `Stop the job of ${when}`, onclick: () => stopJob(job.job_id) }, "Stop")
            : "",
          el("button", { type: "button", class: "secondary", "aria-label": `Delete the job of ${when}`, onclick: () => deleteJob(job.job_id, when) }, "Delete"),
        ),
      );
    }
  } catch (error) {
    showAlert(`Recent jobs could not be loaded: ${error.message}`);
  }
}

async function stopJob(jobId) {
  try {
    const job = await state.api.cancel(jobId);
    showAlert(`Stopped: the photos not processed yet will not be (${job.succeeded} were already done).`);
    await showRecentJobs();
  } catch (error) {
    showAlert(`The job could not be stopped: ${error.message}`);
  }
}

async function deleteJob(jobId, when) {
  if (!window.confirm(`Delete the job of ${when}? Its photos and results are removed from the service for good.`)) return;
  try {
    await state.api.deleteJob(jobId);
    for (const item of state.items.filter((i) => i.jobId === jobId)) item.node?.remove();
    state.items = state.items.filter((item) => item.jobId !== jobId);
    updateSummary();
    showAlert("Deleted: the job's photos and results are gone from the service.");
    await showRecentJobs();
  } catch (error) {
    showAlert(`The job could not be deleted: ${error.message}`);
  }
}

async function reopen(jobId) {
  try {
    const job = await state.api.job(jobId);
    for (const image of job.images) {
      if (state.items.some((i) => i.jobId === jobId && i.imageId === image.image_id)) continue;
      const item = { key: state.nextKey++, name: image.name, jobId, imageId: image.image_id, status: "queued", message: "" };
      state.items.push(item);
      applyImage(item, image);
      renderItem(item);
    }
    updateSummary();
    if (job.status !== "complete") {
      const byId = new Map(state.items.filter((i) => i.jobId === jobId).map((i) => [i.imageId, i]));
      followJob(state.api, { job_id: jobId }, {
        onEvent: () => {},
        onStatus: (status) => status.images.forEach((image) => applyImage(byId.get(image.image_id), image)),
        onError: (error) => showAlert(error.message),
      });
    }
    $("#images").scrollIntoView({ block: "start" });
  } catch (error) {
    showAlert(`The job could not be opened: ${error.message}`);
  }
}

main();

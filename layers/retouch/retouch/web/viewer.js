// The full-size view of one result: zoom to 100 % and beyond, the before/after comparison, and
// fixing by pointing (click an eye, or place a colour), previewed at once and re-run on the photo.
import { $, el, originalUrl } from "./dom.js";

let current = null;
let opener = null;
let hooks = null;
let abort = null;
let previewUrl = null;
let timer = null;

const mode = () => document.querySelector('input[name="viewer-mode"]:checked').value;

export function setUpViewer(h) {
  hooks = h;
  const dialog = $("#viewer");
  $("#viewer-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    abort?.abort();
    // back to the button that opened the view (the card may have been redrawn meanwhile)
    const again = current?.node?.querySelector('[data-action="open"]');
    current = null;
    (opener?.isConnected ? opener : again)?.focus();
  });
  $("#viewer-zoom").addEventListener("change", layout);
  $("#viewer-compare").addEventListener("input", compare);
  for (const radio of document.querySelectorAll('input[name="viewer-mode"]')) radio.addEventListener("change", modeChanged);
  $("#viewer-canvas").addEventListener("click", place);
  $("#viewer-stage").addEventListener("keydown", keyboardPoint);
  $("#viewer-clear").addEventListener("click", () => {
    current.points = [];
    current.hints = [];
    changed();
  });
  $("#viewer-rerun").addEventListener("click", rerun);
  window.addEventListener("resize", () => current && layout());
}

export function openViewer(item, from) {
  current = item;
  cursor = null;
  opener = from;
  const dialog = $("#viewer");
  $("#viewer-title").textContent = `${item.name}, full size`;
  const before = $("#viewer-before");
  const after = $("#viewer-after");
  const original = originalUrl(item);
  before.hidden = !original;
  if (original) {
    before.src = original;
    before.alt = `Before: ${item.name}`;
  }
  after.src = item.downloadUrl;
  after.alt = `After: ${item.name}`;
  const slider = $("#viewer-compare");
  slider.disabled = !original;
  slider.value = original ? "50" : "0";
  compare();
  for (const radio of document.querySelectorAll('input[name="viewer-mode"]')) {
    radio.disabled = radio.value !== "look" && !item.file;
    radio.checked = radio.value === "look";
  }
  $("#viewer-zoom").value = "fit";
  $("#viewer-status").textContent = item.file
    ? `${item.outcome?.summary || "Done."} Choose "fix an eye" or "place a colour", then click on the photo (or, from the photo, the arrow keys and Enter).`
    : `${item.outcome?.summary || "Done."} The original is not in this browser, so points cannot be placed on it.`;
  modeChanged();
  renderMarks();
  dialog.showModal();
  Promise.all([before.decode(), after.decode()].map((p) => p.catch(() => {}))).then(layout);
}

/** The size the photo's points are in: the original's pixels. */
function baseSize() {
  const before = $("#viewer-before");
  const after = $("#viewer-after");
  const w = current.width || (before.hidden ? 0 : before.naturalWidth) || after.naturalWidth || 1;
  const h = current.height || (before.hidden ? 0 : before.naturalHeight) || after.naturalHeight || 1;
  return [w, h];
}

function layout() {
  if (!current) return;
  const [w, h] = baseSize();
  const stage = $("#viewer-stage");
  const zoom = $("#viewer-zoom").value;
  const scale = zoom === "fit" ? Math.min(1, (stage.clientWidth - 4) / w, Math.max(200, stage.clientHeight - 4) / h) : Number(zoom);
  const canvas = $("#viewer-canvas");
  canvas.style.width = `${Math.round(w * scale)}px`;
  canvas.style.height = `${Math.round(h * scale)}px`;
  canvas.dataset.scale = String(scale);
}

function compare() {
  const value = Number($("#viewer-compare").value);
  $("#viewer-canvas").style.setProperty("--split", `${value}%`);
  $("#viewer-compare").setAttribute("aria-valuetext", `${value}% before, ${100 - value}% after`);
}

function modeChanged() {
  const m = mode();
  if (current) renderMarks();
  $("#viewer-canvas").classList.toggle("pointing", m !== "look");
  $("#viewer-colour").hidden = $("#viewer-colour-label").hidden = m !== "colour";
}

function place(event) {
  const rect = $("#viewer-canvas").getBoundingClientRect();
  const [w, h] = baseSize();
  const x = Math.floor(((event.clientX - rect.left) / rect.width) * w); // the pixel clicked
  const y = Math.floor(((event.clientY - rect.top) / rect.height) * h);
  placeAt(x, y);
}

function placeAt(x, y) {
  const m = mode();
  const [w, h] = baseSize();
  if (!current || m === "look" || !current.file || x < 0 || y < 0 || x >= w || y >= h) return;
  if (m === "eye") current.points.push([x, y]);
  else current.hints.push({ x, y, colour: $("#viewer-colour").value });
  changed();
}

let cursor = null; // [x, y] in the photo's pixels: pointing with the keyboard

/** Without a mouse: the arrow keys move a cross over the photo (Shift: 10 pixels), Enter or Space places it. */
function keyboardPoint(event) {
  if (!current || mode() === "look" || !current.file) return;
  const [w, h] = baseSize();
  const step = event.shiftKey ? 10 : 1;
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  if (!cursor) cursor = [Math.floor(w / 2), Math.floor(h / 2)];
  if (event.key in moves) {
    const [dx, dy] = moves[event.key];
    cursor = [Math.min(w - 1, Math.max(0, cursor[0] + dx)), Math.min(h - 1, Math.max(0, cursor[1] + dy))];
    $("#viewer-status").textContent = `The cross is at ${cursor[0]}, ${cursor[1]}: press Enter to place it there.`;
  } else if (event.key === "Enter" || event.key === " ") {
    placeAt(...cursor);
  } else {
    return;
  }
  event.preventDefault();
  renderMarks();
}

function changed() {
  renderMarks();
  clearTimeout(timer);
  timer = setTimeout(preview, 250);
}

function renderMarks() {
  const [w, h] = baseSize();
  const marks = $("#viewer-marks");
  const list = $("#viewer-points");
  marks.replaceChildren();
  list.replaceChildren();
  const mark = (x, y, cls, colour) => {
    const dot = el("span", { class: `mark ${cls}` });
    dot.style.left = `${(x / w) * 100}%`;
    dot.style.top = `${(y / h) * 100}%`;
    if (colour) dot.style.background = colour;
    marks.append(dot);
  };
  if (cursor && mode() !== "look") mark(cursor[0], cursor[1], "cursor");
  current.points.forEach(([x, y], n) => {
    mark(x, y, "eye");
    list.append(pointRow(`Eye at ${x}, ${y}`, () => current.points.splice(n, 1)));
  });
  current.hints.forEach((hint, n) => {
    mark(hint.x, hint.y, "colour", hint.colour);
    list.append(pointRow(`Colour ${hint.colour} at ${hint.x}, ${hint.y}`, () => current.hints.splice(n, 1)));
  });
  const any = current.points.length + current.hints.length > 0;
  $("#viewer-rerun").disabled = !any || !current.file;
  $("#viewer-clear").disabled = !any;
}

function pointRow(text, remove) {
  return el(
    "li",
    {},
    el("span", { text }),
    el("button", { type: "button", class: "secondary small", "aria-label": `Remove: ${text}`, onclick: () => (remove(), changed()) }, "Remove"),
  );
}

async function preview() {
  if (!current) return;
  abort?.abort();
  const item = current;
  const status = $("#viewer-status");
  const after = $("#viewer-after");
  if (!item.points.length && !item.hints.length) {
    after.src = item.downloadUrl;
    status.textContent = item.outcome?.summary || "Done.";
    return;
  }
  abort = new AbortController();
  status.textContent = "Previewing your points…";
  try {
    const blob = await hooks.previewWithMarks(item, abort.signal);
    if (item !== current) return;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    after.src = previewUrl;
    await after.decode().catch(() => {});
    status.textContent = "Preview with your points (at reduced size). Re-run the photo to apply them to the full photo.";
    $("#viewer").dataset.preview = "ready";
  } catch (error) {
    if (error.name === "AbortError") return;
    status.textContent = `No preview: ${error.message}`;
  }
}

async function rerun() {
  const item = current;
  const status = $("#viewer-status");
  $("#viewer-rerun").disabled = true;
  status.textContent = "Re-running this photo as a new job (the service cannot re-run a photo in place, so it is uploaded again)…";
  const ok = await hooks.rerun(item);
  if (item !== current) return;
  if (ok && item.status === "done") {
    $("#viewer-after").src = item.downloadUrl;
    status.textContent = `Re-run finished, as a new job: ${item.outcome?.summary || "done."}`;
  } else {
    status.textContent = `The re-run did not finish: ${item.message || "see the photo's card"}`;
  }
  renderMarks();
}

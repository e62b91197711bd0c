// The preview: the chosen operations on one photo's 1024 px copy (POST /preview), next to it,
// redrawn a moment after a setting changes; and which photo it shows.
import { ApiError } from "./api.js";
import { $, el } from "./dom.js";
import { requestedOperations, requestedOutput, showServiceError } from "./request.js";
import { state } from "./state.js";

const PREVIEW_MAX_SIDE = 1024;

/** The photos the preview can show, in its choice (a new first one is previewed). */
export function refreshPreviewChoices() {
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

export function schedulePreview() {
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
export async function previewWithMarks(item, signal) {
  const blob = await previewInput(item);
  const s = item.previewScale || 1;
  const scaled = { ...item, points: item.points.map((p) => p.map((v) => v * s)), hints: item.hints.map((h) => ({ ...h, x: h.x * s, y: h.y * s })) };
  return state.api.preview(blob, requestedOperations(scaled, item.operations || null), requestedOutput(), signal);
}

export async function renderPreview() {
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

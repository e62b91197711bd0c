// Adding photos: dropped, chosen or a whole folder; each checked in the browser against the
// service's limits (GET /operations) before a byte is uploaded, and given a thumbnail.
import { filesFromDrop } from "./api.js";
import { renderItem, updateSummary } from "./cards.js";
import { checkFile, formatName, megabytes } from "./checks.js";
import { $, el, fieldError } from "./dom.js";
import { refreshPreviewChoices, schedulePreview } from "./preview.js";
import { renderOperations } from "./settings.js";
import { state } from "./state.js";

export function setUpPhotos() {
  const formats = state.limits.formats.map(formatName);
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

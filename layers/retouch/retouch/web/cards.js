// Each photo's card (its status, outcome, before/after comparison and actions) and the job's
// summary; downloading one result or all of them as one ZIP.
import { downloadZip } from "./vendor/client-zip/index.js";
import { safeName, uniqueName } from "./checks.js";
import { $, el, fieldError, originalUrl } from "./dom.js";
import { refreshPreviewChoices } from "./preview.js";
import { WORKING, state } from "./state.js";
import { openViewer } from "./viewer.js";

const EXTENSIONS = { jpeg: "jpg", png: "png", webp: "webp", avif: "avif" };
let hooks = { rerun: async () => false };

/** What a card's buttons call in other modules: `{rerun(item, {current})}`. */
export function setUpCards(h) {
  hooks = h;
}

export function applyImage(item, image) {
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

export function setStatus(item, status, message = "") {
  if (item.status === "done" && status !== "done") return; // a result is final (a re-run resets it first)
  item.status = status;
  if (message) item.message = message;
  renderItem(item);
  updateSummary();
}

export function setProgress(item, fraction) {
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

export function renderItem(item) {
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
    actions.append(el("button", { type: "button", class: "secondary", "data-action": "rerun", "aria-label": `Re-run ${item.name} with the current settings`, onclick: () => hooks.rerun(item, { current: true }) }, "Re-run"));
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

export function updateSummary() {
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
export async function downloadAll() {
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

// The job: Start makes one (a thousand photos at most each), uploads the photos a few at a time,
// follows them to their results; a photo re-run is a new one-photo job. The jobs shown are in the
// address (#job=a,b), so a reload or a second tab comes back to them.
import { ApiError, followJob, fragment, upload } from "./api.js";
import { applyImage, downloadAll, renderItem, setProgress, setStatus, updateSummary } from "./cards.js";
import { $, clearErrors, el, fieldError } from "./dom.js";
import { keepJob } from "./keep.js";
import { refreshPreviewChoices, renderPreview } from "./preview.js";
import { requestedOperations, requestedOutput, showServiceError } from "./request.js";
import { validateSettings } from "./settings.js";
import { state } from "./state.js";

const UPLOAD_CONCURRENCY = 4;
const MAX_IMAGES_PER_JOB = 1000;

export function setUpRun() {
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

export function writeAddress() {
  const hash = fragment();
  if (state.jobs.length) hash.set("job", state.jobs.join(","));
  else hash.delete("job");
  const text = hash.toString().replace(/%2C/gi, ","); // job ids, comma separated, readable
  history.replaceState(null, "", `${location.pathname}${location.search}${text ? `#${text}` : ""}`);
}

export function rememberJob(jobId) {
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
export async function uploadAll(queue) {
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
export function follow(created, items) {
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

// --- re-running one photo ----------------------------------------------------------------------

/**
 * Re-run one photo: the service cannot re-run an image in place, so this is a new one-photo job,
 * uploading the original again from the browser (kept for reloads); the card says so.
 */
export async function rerun(item, { current = false } = {}) {
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

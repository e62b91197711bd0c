// Earlier jobs: those in the address are shown again (with the originals this browser kept, for
// comparisons and re-runs, and uploads a closed page left unfinished sent again), and the list
// of the person's jobs, each to open, stop or delete.
import { applyImage, renderItem, updateSummary } from "./cards.js";
import { $, el, fieldError } from "./dom.js";
import { fragment } from "./api.js";
import { follow, rememberJob, uploadAll, writeAddress } from "./jobs.js";
import { forgetJob, keptJob } from "./keep.js";
import { state } from "./state.js";

export function setUpHistory() {
  $("#refresh-jobs").addEventListener("click", showRecentJobs);
}

export async function openFromAddress() {
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

// What the page knows, shared by its modules (each changes only its own part).

/** A photo in one of these states is still on its way to a result. */
export const WORKING = ["uploading", "queued"];

export const state = {
  config: null,
  api: null,
  limits: null, // `limits` of GET /operations: max_upload_bytes, max_pixels, formats
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

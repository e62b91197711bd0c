// Retouch's public API as a third-party browser client uses it: sign-in, the HTTP API,
// presigned uploads, and live job progress (WebSocket when offered, polling otherwise).

const TOKEN_KEY = "retouch.tokens";
const PKCE_KEY = "retouch.pkce";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Where the API is and how to sign in: `config.json`, written at deploy (or by the local stack). */
export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`the page's configuration could not be loaded (HTTP ${response.status})`);
  return response.json();
}

// --- sign-in -------------------------------------------------------------------------------

function base64url(bytes) {
  let text = "";
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function jwtExpiry(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : Infinity;
  } catch {
    return Infinity; // not a JWT (the local stack's bearer tokens): it does not expire
  }
}

// localStorage, so that a second tab (or a reload) opened on a job's address is signed in too
function storeTokens(tokens) {
  localStorage.setItem(TOKEN_KEY, JSON.stringify(tokens));
}

function storedTokens() {
  try {
    return JSON.parse(localStorage.getItem(TOKEN_KEY) || "null");
  } catch {
    return null;
  }
}

/** Forget the stored sign-in (it was refused). */
export function forgetSignIn() {
  localStorage.removeItem(TOKEN_KEY);
}

/** The address's fragment as parameters (`#job=...&token=...`). */
export function fragment() {
  return new URLSearchParams(location.hash.replace(/^#/, ""));
}

function writeFragment(hash) {
  const text = hash.toString().replace(/%2C/gi, ",");
  history.replaceState(null, "", `${location.pathname}${location.search}${text ? `#${text}` : ""}`);
}

// The sign-in token leaves the address as soon as this module runs, before any request: it is
// never kept in the browser's history.
const ARRIVED_TOKEN = (() => {
  const hash = fragment();
  const token = hash.get("token");
  if (token) {
    hash.delete("token");
    writeFragment(hash);
  }
  return token;
})();

function redirectUri(config) {
  return config.auth.redirect_uri || `${location.origin}${location.pathname}`;
}

/**
 * Signs the page in, or returns null when the user still has to.
 * Locally (`auth.mode == "token"`), `#token=` in the address (in the fragment, which is never
 * sent to a server; `?token=` is still read) is the bearer token; it is kept and removed from
 * the address at once with `history.replaceState`, so it never stays in the browser's history.
 * On AWS (`auth.mode == "cognito"`) the Cognito hosted UI's authorization code (with PKCE) comes
 * back as `?code=` and is exchanged here.
 */
export async function signIn(config) {
  const params = new URLSearchParams(location.search);
  const token = ARRIVED_TOKEN || params.get("token");
  if (config.auth.mode === "token" && token) {
    storeTokens({ access_token: token });
  } else if (config.auth.mode === "cognito" && params.get("code")) {
    const pkce = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    sessionStorage.removeItem(PKCE_KEY);
    if (!pkce || pkce.state !== params.get("state")) throw new Error("the sign-in answer does not match this tab; sign in again");
    await tokenRequest(config, {
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(config),
      code_verifier: pkce.verifier,
    });
    params.delete("code");
    params.delete("state");
  }
  params.delete("token");
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  return storedTokens() ? tokenProvider(config) : null;
}

async function tokenRequest(config, form) {
  const response = await fetch(`https://${config.auth.domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.auth.client_id, ...form }),
  });
  if (!response.ok) throw new Error("sign-in failed; please sign in again");
  const tokens = await response.json();
  storeTokens({ ...storedTokens(), ...tokens });
}

/** A function returning a valid access token, refreshed when it is about to expire. */
function tokenProvider(config) {
  return async () => {
    let tokens = storedTokens();
    if (!tokens) throw new ApiError(401, "you are signed out");
    if (jwtExpiry(tokens.access_token) - Date.now() < 60_000 && tokens.refresh_token && config.auth.mode === "cognito") {
      await tokenRequest(config, { grant_type: "refresh_token", refresh_token: tokens.refresh_token });
      tokens = storedTokens();
    }
    return tokens.access_token;
  };
}

/** Cognito's hosted UI, authorization code flow with PKCE (no password touches this page). */
export async function beginSignIn(config) {
  if (!config.auth.domain || !config.auth.client_id) throw new Error("this page's configuration has no sign-in service");
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.auth.client_id,
    redirect_uri: redirectUri(config),
    scope: (config.auth.scopes || ["openid", "email", "aws.cognito.signin.user.admin"]).join(" "),
    code_challenge_method: "S256",
    code_challenge: challenge,
    state,
  });
  location.assign(`https://${config.auth.domain}/oauth2/authorize?${query}`);
}

export function signOut(config) {
  forgetSignIn();
  if (config.auth.mode === "cognito") {
    const query = new URLSearchParams({ client_id: config.auth.client_id, logout_uri: redirectUri(config) });
    location.assign(`https://${config.auth.domain}/logout?${query}`);
  } else {
    location.reload();
  }
}

// --- the HTTP API ----------------------------------------------------------------------------

export class Api {
  constructor(baseUrl, token) {
    this.base = baseUrl.replace(/\/$/, "");
    this.token = token;
  }

  async request(method, path, { json, body, headers = {}, signal } = {}) {
    const init = { method, signal, headers: { Authorization: `Bearer ${await this.token()}`, ...headers } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers["Content-Type"] = "application/json";
    } else if (body !== undefined) {
      init.body = body;
    }
    let response;
    try {
      response = await fetch(`${this.base}${path}`, init);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "the service cannot be reached; check your connection and try again");
    }
    if (!response.ok) {
      let message = `the service answered HTTP ${response.status}`;
      try {
        const data = await response.json();
        message = data.error?.message || data.message || message;
      } catch {
        /* not JSON: keep the status line */
      }
      if (response.status === 401) message = "your sign-in has expired or is not valid; sign in again";
      throw new ApiError(response.status, message);
    }
    return response;
  }

  async operations() {
    return (await this.request("GET", "/operations")).json();
  }

  async createJob(request) {
    return (await this.request("POST", "/jobs", { json: request })).json();
  }

  async job(jobId) {
    // every page of the job's images (the counters come with the first page)
    const path = `/jobs/${encodeURIComponent(jobId)}`;
    const job = await (await this.request("GET", path)).json();
    for (let cursor = job.next_cursor; cursor; ) {
      const page = await (await this.request("GET", `${path}?cursor=${encodeURIComponent(cursor)}`)).json();
      job.images.push(...page.images);
      cursor = page.next_cursor;
    }
    job.next_cursor = null;
    return job;
  }

  async jobs() {
    return (await this.request("GET", "/jobs")).json();
  }

  /** Stop a job: photos not processed yet are dropped (`POST /jobs/{id}/cancel`). */
  async cancel(jobId) {
    return (await this.request("POST", `/jobs/${encodeURIComponent(jobId)}/cancel`)).json();
  }

  /** Remove a job's photos, outputs and records from the service for good (`DELETE /jobs/{id}`). */
  async deleteJob(jobId) {
    await this.request("DELETE", `/jobs/${encodeURIComponent(jobId)}`);
  }

  /** The operations on one small image (`POST /preview`): the rendered image as a Blob. */
  async preview(image, operations, output, signal) {
    const query = new URLSearchParams({
      operations: JSON.stringify(operations),
      format: output.format === "auto" ? "jpeg" : output.format,
      quality: String(output.quality),
    });
    const response = await this.request("POST", `/preview?${query}`, {
      body: image,
      headers: { "Content-Type": image.type || "image/jpeg" },
      signal,
    });
    return response.blob();
  }
}

/** One presigned POST upload (fields, then the file last) with progress; resolves when S3 accepted it. */
export function upload(target, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(target.fields)) form.append(key, value);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", target.url);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new Error(`the upload was refused (HTTP ${xhr.status})`));
    xhr.onerror = () => reject(new Error("the upload failed; check your connection"));
    xhr.onabort = () => reject(new DOMException("aborted", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}

/**
 * Follows a job until it completes: `onEvent(event)` for every pushed image/job event (when the
 * job offers a WebSocket), `onStatus(job)` for every `GET /jobs/{id}` answer (which carries the
 * download URLs). Without a WebSocket, or when it fails, the job is polled. Returns `stop()`.
 */
export function followJob(api, created, { onEvent, onStatus, onError }) {
  let stopped = false;
  let socket = null;
  let socketOpen = false;
  let lastSeq = 0;
  let timer = null;
  let refreshSoon = null;
  const started = Date.now();

  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(refreshSoon);
    if (socket) socket.close();
  };

  const refresh = async () => {
    clearTimeout(timer);
    if (stopped) return;
    try {
      const job = await api.job(created.job_id);
      if (stopped) return;
      onStatus(job);
      if (job.status === "complete") return stop();
    } catch (error) {
      if (error.status === 404 || error.status === 401) {
        onError(error);
        return stop();
      }
    }
    // polling alone: every second, then every 2 s; with a live WebSocket: a slow safety net
    const every = socketOpen ? 5000 : Date.now() - started < 30_000 ? 1000 : 2000;
    if (!stopped) timer = setTimeout(refresh, every);
  };

  const connect = async () => {
    const token = await api.token();
    const url = `${created.websocket_url}${created.websocket_url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
    try {
      socket = new WebSocket(url);
    } catch {
      return;
    }
    socket.onopen = () => {
      socketOpen = true;
      socket.send(JSON.stringify({ action: "subscribe", job_id: created.job_id, after: lastSeq }));
    };
    socket.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event.job_id !== created.job_id) return;
      if (typeof event.seq === "number") lastSeq = Math.max(lastSeq, event.seq);
      onEvent(event);
      // the status carries the download URLs: fetch it shortly after a burst of events
      clearTimeout(refreshSoon);
      refreshSoon = setTimeout(refresh, event.type === "job" ? 0 : 400);
    };
    socket.onclose = () => {
      socket = null;
      if (socketOpen && !stopped) {
        socketOpen = false; // fall back to polling at once
        refresh();
      }
    };
  };

  if (created.websocket_url && "WebSocket" in window) connect();
  refresh();
  return stop;
}

// --- files ----------------------------------------------------------------------------------

const SIGNATURES = [
  [[0xff, 0xd8, 0xff], "image/jpeg"],
  [[0x89, 0x50, 0x4e, 0x47], "image/png"],
  [[0x47, 0x49, 0x46, 0x38], "image/gif"],
  [[0x42, 0x4d], "image/bmp"],
  [[0x49, 0x49, 0x2a, 0x00], "image/tiff"],
  [[0x4d, 0x4d, 0x00, 0x2a], "image/tiff"],
  [[0x49, 0x49, 0x2b, 0x00], "image/tiff"],
  [[0x4d, 0x4d, 0x00, 0x2b], "image/tiff"],
];

/** The image type from a file's first bytes, or a plain reason it is not an image. */
export async function sniff(file) {
  if (file.size === 0) return { error: "this file is empty" };
  const head = new Uint8Array(await file.slice(0, 64).arrayBuffer());
  for (const [magic, type] of SIGNATURES) {
    if (magic.every((b, i) => head[i] === b)) return { type };
  }
  const ascii = (from, to) => String.fromCharCode(...head.slice(from, to));
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return { type: "image/webp" };
  if (ascii(4, 8) === "ftyp") {
    const brand = ascii(8, 12);
    if (brand.startsWith("avi")) return { type: "image/avif" };
    if (["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].includes(brand)) return { type: "image/heic" };
    return { error: "this file is a video, not a photo" };
  }
  if (ascii(0, 5) === "%PDF-") return { error: "this file is a PDF document, not an image" };
  if (head[0] === 0x50 && head[1] === 0x4b) return { error: "this file is a ZIP archive, not an image" };
  const printable = head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b !== 127));
  if (printable) return { error: "this file is not an image (it contains text)" };
  return { error: "this file is not an image" };
}

/** Every file below a dropped folder (DataTransferItem entries), depth first. */
export async function filesFromDrop(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const files = [];
  const walk = async (entry) => {
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  for (const entry of entries) await walk(entry);
  return files;
}

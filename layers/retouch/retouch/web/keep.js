// The originals of this browser's jobs, kept in IndexedDB so that a reload or a second tab shows
// a job's before/after comparisons and can re-run one photo without choosing it again.
const DB = "retouch";
const STORE = "jobs";

function database() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, work) {
  const db = await database();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const KEEP_JOBS = 20; // the most recent jobs' originals are kept...
const KEEP_DAYS = 14; // ...for two weeks at most
let lastKept = 0;

/** Keep `{images: {imageId: {file, name, target}}, replaces?}` for a job (best effort: storage may be full or off). */
export async function keepJob(jobId, record) {
  try {
    lastKept = Math.max(Date.now(), lastKept + 1); // strictly increasing: the newest is always known
    await transact("readwrite", (store) => store.put({ ...record, keptAt: lastKept }, jobId));
    await prune();
    return true;
  } catch {
    return false;
  }
}

/** Forget the originals of old jobs, so that the browser's storage does not grow without end. */
async function prune() {
  const ages = [];
  await transact("readonly", (store) => {
    const request = store.openCursor();
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor) return;
      ages.push([cursor.key, cursor.value?.keptAt || 0]);
      cursor.continue();
    };
    return request;
  });
  ages.sort((a, b) => b[1] - a[1]);
  const oldest = Date.now() - KEEP_DAYS * 86_400_000;
  const stale = ages.filter(([, at], n) => n >= KEEP_JOBS || at < oldest).map(([key]) => key);
  if (stale.length) await transact("readwrite", (store) => stale.forEach((key) => store.delete(key)));
}

/** What this browser kept of a job, or null. */
export async function keptJob(jobId) {
  try {
    return (await transact("readonly", (store) => store.get(jobId))) || null;
  } catch {
    return null;
  }
}

export async function forgetJob(jobId) {
  try {
    await transact("readwrite", (store) => store.delete(jobId));
  } catch {
    /* nothing kept */
  }
}

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

/** Keep `{images: {imageId: {file, name}}, replaces?}` for a job (best effort: storage may be full or off). */
export async function keepJob(jobId, record) {
  try {
    await transact("readwrite", (store) => store.put(record, jobId));
    return true;
  } catch {
    return false;
  }
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

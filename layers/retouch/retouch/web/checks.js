// What the page checks before a byte is uploaded (format, file size, pixel count read from the
// header without decoding, a file cut short), and file names made safe on every operating system.
import { sniff } from "./api.js";

const NAMES = { jpeg: "JPEG", png: "PNG", webp: "WebP", gif: "GIF", tiff: "TIFF", bmp: "BMP", avif: "AVIF", heic: "HEIC" };

/** A format's name as people write it (WebP, not webp). */
export const formatName = (format) => NAMES[format] || format.toUpperCase();

const read = async (file, start, end) => new Uint8Array(await file.slice(start, end).arrayBuffer());
const u16be = (b, i) => (b[i] << 8) | b[i + 1];
const u32be = (b, i) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
const u16le = (b, i) => b[i] | (b[i + 1] << 8);
const i32le = (b, i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);

export const megabytes = (n) =>
  n < 1024 * 1024 ? `${Math.round(n / 1024)} KB` : `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;

/** A JPEG's size (from its SOF segment) and where its image data starts, walking the segments. */
async function jpegHeader(file) {
  let pos = 2;
  let size = null;
  while (pos + 4 <= file.size) {
    const h = await read(file, pos, pos + 10);
    if (h[0] !== 0xff) return { size, sos: null };
    const marker = h[1];
    if (marker === 0xff) {
      pos += 1;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === 0xda) return { size, sos: pos };
    if (marker === 0xd9) return { size, sos: null };
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker) && !size) {
      size = { height: u16be(h, 5), width: u16be(h, 7) };
    }
    pos += 2 + u16be(h, 2);
  }
  return { size, sos: null };
}

/** Whether a JPEG ends (an end-of-image marker after its image data, trailers allowed). */
async function jpegComplete(file, sos) {
  if (sos === null) return false;
  const tail = await read(file, Math.max(sos, file.size - 4096), file.size);
  let end = tail.length;
  while (end > 0 && (tail[end - 1] === 0x00 || tail[end - 1] === 0x0a || tail[end - 1] === 0x0d)) end--;
  if (end >= 2 && tail[end - 2] === 0xff && tail[end - 1] === 0xd9) return true;
  // something after the image (a phone's motion-photo video, a maker trailer): look for the marker
  const chunk = 4 * 1024 * 1024;
  for (let at = sos; at < file.size; at += chunk - 1) {
    const b = await read(file, at, Math.min(file.size, at + chunk));
    for (let i = 0; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  }
  return false;
}

async function pngComplete(file) {
  const tail = await read(file, Math.max(0, file.size - 64), file.size);
  const iend = [0x49, 0x45, 0x4e, 0x44];
  for (let i = tail.length - 4; i >= 0; i--) if (iend.every((v, k) => tail[i + k] === v)) return true;
  return false;
}

/** Width and height from the first bytes of a file of this format, or null when unknown. */
async function headerSize(file, format) {
  if (format === "jpeg") return (await jpegHeader(file)).size;
  const b = await read(file, 0, 32);
  if (format === "png") return { width: u32be(b, 16), height: u32be(b, 20) };
  if (format === "gif") return { width: u16le(b, 6), height: u16le(b, 8) };
  if (format === "bmp") return { width: Math.abs(i32le(b, 18)), height: Math.abs(i32le(b, 22)) };
  if (format === "webp") {
    const chunk = String.fromCharCode(...b.slice(12, 16));
    if (chunk === "VP8 ") return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
    if (chunk === "VP8L") {
      return { width: 1 + (((b[22] & 0x3f) << 8) | b[21]), height: 1 + (((b[24] & 0xf) << 10) | (b[23] << 2) | ((b[22] & 0xc0) >> 6)) };
    }
    if (chunk === "VP8X") return { width: 1 + (b[24] | (b[25] << 8) | (b[26] << 16)), height: 1 + (b[27] | (b[28] << 8) | (b[29] << 16)) };
  }
  return null; // TIFF, HEIC, AVIF: the service measures them
}

/**
 * Everything the browser can know about a photo before uploading it: `{type, format, width,
 * height}` when it would be accepted, or `{error}` saying in plain words why it would not.
 * `limits` are the service's, as GET /operations publishes them: `{max_upload_bytes,
 * max_pixels, formats}`.
 */
export async function checkFile(file, limits) {
  const found = await sniff(file);
  if (found.error) return { error: found.error };
  const format = found.type.replace("image/", "");
  if (!limits.formats.includes(format)) {
    return { error: `${formatName(format)} files are not accepted; use ${limits.formats.map(formatName).join(", ")}` };
  }
  const maxBytes = limits.max_upload_bytes;
  if (file.size > maxBytes) return { error: `too large to upload: ${megabytes(file.size)}, and the service takes up to ${megabytes(maxBytes)}` };
  let size = null;
  try {
    size = await headerSize(file, format);
  } catch {
    size = null;
  }
  const maxPixels = limits.max_pixels;
  if (size && size.width * size.height > maxPixels) {
    const mp = (n) => `${Math.round(n / 1e6)} megapixels`;
    return { error: `too many pixels: ${size.width} × ${size.height} is ${mp(size.width * size.height)}, and the service takes up to ${mp(maxPixels)}` };
  }
  if (format === "jpeg" && !(await jpegComplete(file, (await jpegHeader(file)).sos))) {
    return { error: "this photo is incomplete (the file is cut short); copy it again from the camera or phone" };
  }
  if (format === "png" && !(await pngComplete(file))) {
    return { error: "this photo is incomplete (the file is cut short); copy it again" };
  }
  return { type: found.type, format, width: size?.width, height: size?.height };
}

// --- names ----------------------------------------------------------------------------------

const RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

/**
 * A file name safe to save on Windows, macOS and Linux: the last part of any path (`/` or `\`),
 * no drive prefix, no `..`, no reserved characters or names (CON, NUL, COM1...), no trailing
 * dot or space, not hidden, at most 180 characters.
 */
export function safeName(name, fallback = "photo") {
  let base = String(name ?? "").split(/[\\/]/).pop() || "";
  base = base.replace(/^[a-zA-Z]:/, "");
  // eslint-disable-next-line no-control-regex
  base = base.replace(/[\u0000-\u001f\u007f<>:"|?*]/g, "_").trim();
  base = base.replace(/[. ]+$/, "");
  if (!base || /^\.+$/.test(base)) base = fallback;
  if (base.startsWith(".")) base = `_${base.slice(1)}` || fallback;
  const stem = base.split(".")[0].trim();
  if (RESERVED.test(stem)) base = `_${base}`;
  if (base.length > 180) {
    const dot = base.lastIndexOf(".");
    const ext = dot > 0 && base.length - dot <= 10 ? base.slice(dot) : "";
    base = base.slice(0, 180 - ext.length) + ext;
  }
  return base;
}

/** `safeName`, made unique among the names already `taken` (case-insensitively, as Windows and macOS compare). */
export function uniqueName(name, taken) {
  let candidate = name;
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = name.replace(/(\.[^.]*)?$/, `-${n}$1`);
  taken.add(candidate.toLowerCase());
  return candidate;
}

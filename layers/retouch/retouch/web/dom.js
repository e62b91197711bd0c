// What every part of the page shares: finding and making elements, errors shown where the person
// is looking (next to the control that caused them), and a photo's original as a URL.

export const $ = (selector) => document.querySelector(selector);

export const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  return node;
};

export function showAlert(message) {
  const box = $("#alert");
  box.textContent = message;
  box.hidden = !message;
}

/** Show `message` in `box` (next to `control`), mark the control, move focus to it. */
export function fieldError(box, message, control = null, { focus = true } = {}) {
  box.textContent = message;
  box.hidden = !message;
  if (control) {
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }
  if (message && focus) {
    const target = control || box;
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
  }
}

export function clearErrors() {
  for (const box of document.querySelectorAll(".field-error")) box.hidden = true;
  for (const node of document.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  showAlert("");
}

/** The photo as the person added it, as a URL (null when the browser does not have it or cannot show it). */
export function originalUrl(item) {
  return item.file && item.decodable !== false ? (item.originalUrl ||= URL.createObjectURL(item.file)) : null;
}

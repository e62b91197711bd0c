// The tasks a person chooses and their settings under "Adjust", generated from GET /operations
// (their words included): the controls, their ranges, errors beside them as they are typed.
import { $, el, fieldError } from "./dom.js";
import { schedulePreview } from "./preview.js";
import { chosenOps, visible } from "./request.js";
import { state } from "./state.js";
import { paramWords, taskWords } from "./words.js";

export function setUpTasks(formats) {
  const list = $("#task-list");
  for (const name of state.order) {
    const spec = state.catalogue.get(name);
    const words = taskWords(spec);
    state.params[name] = { ...defaults(name), ...words.preset };
    const id = `task-${name}`;
    const box = el("input", { type: "checkbox", id, value: name, "aria-describedby": `${id}-help` });
    box.addEventListener("change", () => {
      if (box.checked) state.chosen.add(name);
      else state.chosen.delete(name);
      fieldError($("#task-error"), "", null);
      renderOperations();
      schedulePreview();
    });
    list.append(el("div", { class: "task" }, box, el("label", { for: id, text: words.task }), el("small", { id: `${id}-help`, text: words.help })));
  }
  const format = $("#output-format");
  const formatNames = { auto: "The same format as each photo", jpeg: "JPEG", png: "PNG", webp: "WebP (smaller, for the web)", avif: "AVIF (smallest)" };
  for (const f of formats) format.append(el("option", { value: f, text: formatNames[f] || f.toUpperCase() }));
  format.value = "auto";
  format.addEventListener("change", () => schedulePreview());
  $("#output-quality").addEventListener("change", () => {
    checkQuality(false);
    schedulePreview();
  });
  renderOperations();
}

function defaults(opName) {
  const params = {};
  for (const p of state.catalogue.get(opName)?.params || []) if (p.default !== undefined && p.default !== null) params[p.name] = p.default;
  return params;
}

export function renderOperations(focusId = null) {
  const list = $("#operations");
  list.replaceChildren();
  for (const name of chosenOps()) {
    const spec = state.catalogue.get(name);
    const params = el("div", { class: "params" });
    for (const param of spec.params) {
      if (!visible(param, state.params[name])) continue;
      params.append(paramControl(name, param));
    }
    list.append(el("li", { "data-op": name }, el("fieldset", {}, el("legend", { text: taskWords(spec).task }), params)));
  }
  if (!list.children.length) list.append(el("li", { class: "hint", text: "Choose what to do above; its settings appear here." }));
  if (focusId) document.getElementById(focusId)?.focus();
}

function numberWords(n) {
  return String(n);
}

function rangeWords(param) {
  if (param.type === "bool") return param.default ? "On unless you turn it off." : "";
  const bits = [];
  if (param.minimum !== undefined && param.maximum !== undefined) bits.push(`From ${numberWords(param.minimum)} to ${numberWords(param.maximum)}.`);
  else if (param.minimum !== undefined) bits.push(`At least ${numberWords(param.minimum)}.`);
  else if (param.maximum !== undefined) bits.push(`At most ${numberWords(param.maximum)}.`);
  if (param.default !== undefined && param.default !== null && param.type !== "choice") bits.push(`Usually ${numberWords(param.default)}.`);
  return bits.join(" ");
}

function paramControl(opName, param) {
  const id = `op-${opName}-${param.name}`;
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const words = paramWords(param);
  const params = state.params[opName];
  const value = params[param.name];
  const help = el("small", { id: helpId, text: [words.help, rangeWords(param)].filter(Boolean).join(" ") });
  const error = el("p", { id: errorId, class: "field-error", hidden: true });
  const described = `${helpId} ${errorId}`;
  if (words.perPhoto) {
    return el("div", { class: "param" }, el("p", { class: "param-label", text: words.label }), el("small", { text: words.help }));
  }
  const label = el("label", { for: id, text: words.label });
  let input;
  if (words.photoChoice) {
    input = el("select", { id, "aria-describedby": described });
    const names = state.items.filter((i) => i.status !== "rejected").map((i) => i.name);
    input.append(el("option", { value: "", text: names.length ? "Choose a photo" : "Add photos first" }));
    for (const n of names) input.append(el("option", { value: n, text: n, selected: n === value }));
  } else if (param.type === "choice") {
    input = el("select", { id, "aria-describedby": described });
    for (const c of param.choices) input.append(el("option", { value: c, text: words.choices[c] || c, selected: c === value }));
  } else if (param.type === "bool") {
    input = el("input", { id, type: "checkbox", "aria-describedby": described, checked: Boolean(value) });
    input.addEventListener("change", () => {
      params[param.name] = input.checked;
      schedulePreview();
    });
    return el("div", { class: "param checkbox" }, input, label, help, error);
  } else if (param.type === "int" || param.type === "float") {
    input = el("input", {
      id,
      type: "number",
      "aria-describedby": described,
      min: param.minimum,
      max: param.maximum,
      step: param.type === "int" ? 1 : "any",
      inputmode: param.type === "int" ? "numeric" : "decimal",
      value: value ?? "",
    });
  } else {
    const shown = Array.isArray(value) ? value.join(", ") : (value ?? "");
    const listId = words.suggestions.length ? `${id}-list` : undefined;
    input = el("input", { id, type: "text", "aria-describedby": described, value: shown, spellcheck: "false", list: listId });
    if (listId) {
      const datalist = el("datalist", { id: listId });
      for (const s of words.suggestions) datalist.append(el("option", { value: s }));
      help.after(datalist);
      return el("div", { class: "param" }, label, input, help, datalist, error);
    }
  }
  input.addEventListener("change", () => {
    const problem = paramProblem(param, input);
    fieldError(error, problem, input, { focus: false });
    if (problem) return;
    params[param.name] = readParam(param, input);
    // a choice can show or hide other parameters (only_with)
    const dependents = state.catalogue.get(opName).params.some((p) => p.only_with && param.name in p.only_with);
    if (dependents) renderOperations(id);
    schedulePreview();
  });
  return el("div", { class: "param" }, label, input, help, error);
}

/** What is wrong with a typed value, in plain words, or "". */
function paramProblem(param, input) {
  if (param.type !== "int" && param.type !== "float") return "";
  const raw = input.value.trim();
  if (raw === "") return param.default === undefined ? "" : "";
  const n = Number(raw);
  if (!Number.isFinite(n)) return "Type a number.";
  if (param.type === "int" && !Number.isInteger(n)) return "Type a whole number.";
  const { minimum: lo, maximum: hi } = param;
  if ((lo !== undefined && n < lo) || (hi !== undefined && n > hi)) {
    if (lo !== undefined && hi !== undefined) return `Choose a number from ${lo} to ${hi}; ${raw} is out of range.`;
    return lo !== undefined ? `Choose a number of at least ${lo}.` : `Choose a number of at most ${hi}.`;
  }
  return "";
}

function readParam(param, input) {
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (param.type === "int") return Number.parseInt(raw, 10);
  if (param.type === "float") return Number.parseFloat(raw);
  if (param.type === "numbers") return raw.split(/[\s,]+/).filter(Boolean).map(Number);
  return raw;
}

function checkQuality(focus) {
  const input = $("#output-quality");
  const n = Number(input.value);
  let problem = "";
  if (input.value.trim() !== "" && (!Number.isInteger(n) || n < 1 || n > 100)) problem = `Choose a whole number from 1 to 100; ${input.value} is out of range.`;
  let box = $("#output-quality-error");
  if (!box) {
    box = el("p", { id: "output-quality-error", class: "field-error", hidden: true });
    input.closest(".row").after(box);
    input.setAttribute("aria-describedby", "output-quality-help output-quality-error");
  }
  fieldError(box, problem, input, { focus });
  return !problem;
}

/** The first setting typed out of range, marked next to it (Adjust opened), or true when all are fine. */
export function validateSettings() {
  for (const name of chosenOps()) {
    for (const param of state.catalogue.get(name).params) {
      const input = document.getElementById(`op-${name}-${param.name}`);
      if (!input) continue;
      const problem = paramProblem(param, input);
      if (problem) {
        $("#adjust").open = true;
        fieldError(document.getElementById(`op-${name}-${param.name}-error`), problem, input);
        return false;
      }
    }
  }
  if (!checkQuality(false)) {
    $("#adjust").open = true;
    checkQuality(true);
    return false;
  }
  return true;
}

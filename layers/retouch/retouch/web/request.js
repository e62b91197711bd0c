// What the page asks the service for: the chosen operations with their settings (and a photo's
// own points and colours), the output; and the service's answer about a setting, shown beside it.
import { $, fieldError } from "./dom.js";
import { state } from "./state.js";
import { paramWords, taskWords } from "./words.js";

export const chosenOps = () => state.order.filter((n) => state.chosen.has(n));

/** Whether a parameter applies, given the others (`only_with`). */
export function visible(param, params) {
  if (!param.only_with) return true;
  return Object.entries(param.only_with).every(([other, values]) => values.includes(params[other]));
}

/** A service error about a parameter ("red_eye: parameter 'strength' must be at most 1, got 5.0") shown next to it. */
export function showServiceError(message) {
  const match = /^(\w+): parameter '(\w+)' (.*)$/s.exec(message);
  if (match) {
    const [, op, name, rest] = match;
    const input = document.getElementById(`op-${op}-${name}`);
    const spec = state.catalogue.get(op);
    const param = spec?.params.find((p) => p.name === name);
    const plain = rest.replace(/, got (.*)$/, "; it is $1").replace(/^./, (c) => c.toUpperCase());
    if (input && param) {
      $("#adjust").open = true;
      fieldError(document.getElementById(`op-${op}-${name}-error`), `${plain}.`.replace(/\.\.$/, "."), input);
      return;
    }
    if (spec) {
      const words = param ? paramWords(param).label : name;
      fieldError($("#task-error"), `${taskWords(spec).task}: ${words.toLowerCase()}: ${plain}`, $(`#task-${op}`));
      return;
    }
  }
  fieldError($("#start-error"), `The job could not start: ${message}`, $("#start"));
}

function photoPoints(item) {
  return {
    points: item.points?.length ? item.points.map((p) => p.slice()) : null,
    hints: item.hints?.length ? item.hints.map((h) => `${Math.round(h.x)},${Math.round(h.y)},${h.colour}`).join(";") : null,
  };
}

/** The operations as the API takes them (visible parameters with a value), with a photo's own points and colours. */
export function requestedOperations(item = null, base = null) {
  const ops = base
    ? base.map(({ op, params }) => ({ op, params: { ...params } }))
    : chosenOps().map((op) => {
        const spec = state.catalogue.get(op);
        const params = state.params[op];
        const out = {};
        for (const p of spec.params) {
          const v = params[p.name];
          if (v !== undefined && v !== null && v !== "" && visible(p, params) && !paramWords(p).perPhoto) out[p.name] = v;
        }
        return { op, params: out };
      });
  if (!item) return ops;
  const { points, hints } = photoPoints(item);
  if (points) {
    const red = ops.find((o) => o.op === "red_eye");
    if (red) red.params.points = points;
    else ops.unshift({ op: "red_eye", params: { points } });
  }
  if (hints) {
    const colour = ops.find((o) => o.op === "colorize");
    if (colour) Object.assign(colour.params, { mode: "hints", hints });
    else ops.splice(ops[0]?.op === "red_eye" ? 1 : 0, 0, { op: "colorize", params: { mode: "hints", hints } });
    const c = ops.find((o) => o.op === "colorize");
    delete c.params.reference;
  }
  return ops;
}

export function requestedOutput() {
  const quality = Number.parseInt($("#output-quality").value, 10);
  return { format: $("#output-format").value, quality: Number.isFinite(quality) ? quality : 88 };
}

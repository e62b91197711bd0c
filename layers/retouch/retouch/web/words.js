// The operations of GET /operations in a person's words. The words live in ONE place, the
// service's table of operations (ops/table.py), which GET /operations publishes: `label`,
// `task_help`, `preset` and `order` on an operation; `label`, `plain_help`, `choice_labels`,
// `suggestions` and `ui` on a parameter. So the page, the API and `retouch ops` cannot disagree.
// An operation without words (a newer service) is still offered, by its name.

const humanise = (name) => name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

/** The order tasks are offered and applied in: the operations' `order`, then by name. */
export function taskOrder(specs) {
  const rank = (spec) => (Number.isFinite(spec.order) ? spec.order : Number.MAX_SAFE_INTEGER);
  return [...specs].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name)).map((spec) => spec.name);
}

/** An operation in a person's words: `{task, help, preset}`. */
export function taskWords(spec) {
  return {
    task: spec.label || humanise(spec.name),
    help: spec.task_help || spec.summary || "",
    preset: spec.preset || {},
  };
}

/**
 * A parameter in a person's words: `{label, help, choices, perPhoto, photoChoice, suggestions}`;
 * `perPhoto` (`ui: "points"`) is placed on one photo in the full-size view, not typed in, and
 * `photoChoice` (`ui: "photo"`) names another photo of the job.
 */
export function paramWords(param) {
  return {
    label: param.label || humanise(param.name),
    help: param.plain_help ?? "",
    choices: param.choice_labels || {},
    perPhoto: param.ui === "points",
    photoChoice: param.ui === "photo",
    suggestions: param.suggestions || [],
  };
}

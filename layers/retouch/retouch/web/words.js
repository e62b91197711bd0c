// The page's words for the operations of GET /operations, in ONE place, keyed by operation name:
// the task a person chooses, what it does, its usual settings, and each parameter's label and
// help in plain words. When GET /operations carries them (`label`, `task_help`, `preset` on an
// operation; `label`, `plain_help`, `choice_labels` on a parameter) those win, so the page and the
// API cannot disagree; an operation this table does not know is still offered, by its name.

export const WORDS = {
  red_eye: {
    task: "Fix red eyes",
    help: "Finds faces and takes the red out of eyes lit by the flash. Open a result to point at an eye it missed.",
    preset: {},
    params: {
      strength: { label: "How much to fix", help: "0 leaves the eyes as they are, 1 fixes them fully." },
      threshold: { label: "Sensitivity to red", help: "Lower also catches paler red eyes; higher only deep red ones." },
      cat_eye: { label: "Also fix golden or white eye-shine", help: "Also darkens pupils the flash made gold or white. It may darken pale eyes." },
      points: { label: "Eyes you pointed at", help: "Open a result full size and click an eye to fix it.", perPhoto: true },
    },
  },
  teeth_whitening: {
    task: "Whiten teeth",
    help: "Takes the yellow out of visible teeth, and lightens them a little.",
    preset: {},
    params: {
      strength: { label: "How white", help: "0 leaves the teeth as they are, 0.6 is a natural white, 1 is the whitest." },
    },
  },
  colorize: {
    task: "Colour an old photo",
    help: "Adds colour to a black-and-white or faded photo. Open a result to place colours yourself.",
    preset: { mode: "auto" },
    params: {
      mode: {
        label: "Where the colours come from",
        help: "Automatic guesses them; another photo lends its colours; or you place them.",
        choices: { auto: "Automatic", reference: "From another photo of this job", hints: "From colours I place on the photo" },
      },
      strength: { label: "How much colour", help: "0 stays grey, 1 is the colour as guessed, 2 twice as strong." },
      hints: { label: "Colours you placed", help: "Open a result full size and click where a colour belongs.", perPhoto: true },
      reference: { label: "Photo to take the colours from", help: "One of the photos you added.", photoChoice: true },
    },
  },
  contrast: {
    task: "Brighten and add contrast",
    help: "Spreads the tones so dark photos brighten and flat ones gain contrast.",
    preset: { method: "auto" },
    params: {
      method: {
        label: "How",
        help: "Automatic suits most photos; local contrast brings back faded ones; or set it by hand.",
        choices: { auto: "Automatic", clahe: "Local contrast, for faded photos", linear: "By hand: brightness, contrast, mid-tones" },
      },
      low: { label: "Share of the photo made black (%)", help: "The darkest part of the photo, this much of it, becomes black." },
      high: { label: "Tones up to this share stay below white (%)", help: "The brightest part above this becomes white." },
      clip_limit: { label: "Local contrast strength", help: "Higher brings out more detail in flat areas, and more grain." },
      tiles: { label: "Areas across and down", help: "The photo is balanced in this many areas across and this many down." },
      brightness: { label: "Brightness", help: "-1 darkest, 0 unchanged, 1 brightest." },
      contrast: { label: "Contrast", help: "0 flat grey, 1 unchanged, higher for more contrast." },
      gamma: { label: "Mid-tones", help: "Above 1 brightens the middle tones, below 1 darkens them." },
    },
  },
  crop: {
    task: "Crop for social media",
    help: "Crops to a shape (4:5 for a portrait post), keeping every face in the frame.",
    preset: { aspect: "4:5", gravity: "face" },
    params: {
      box: { label: "Area to keep", help: "Left, top, width, height in pixels (or as parts of the photo: 0.1, 0.1, 0.8, 0.8). Leave empty to crop to a shape." },
      aspect: {
        label: "Shape (width:height)",
        help: "1:1 square, 4:5 portrait post, 16:9 wide, 9:16 story.",
        suggestions: ["1:1", "4:5", "16:9", "9:16", "3:2"],
      },
      gravity: {
        label: "Keep in the frame",
        help: "Which part of the photo the crop keeps.",
        choices: { center: "The middle", face: "Every face", smart: "Faces, else the most striking part" },
      },
    },
  },
  thumbnail: {
    task: "Make thumbnails",
    help: "Makes small copies for the web: 512 × 512 pixels, filled, faces kept.",
    preset: { width: 512, height: 512, fit: "cover" },
    params: {
      width: { label: "Width (pixels)", help: "" },
      height: { label: "Height (pixels)", help: "" },
      fit: {
        label: "Fit",
        help: "",
        choices: { contain: "The whole photo inside the size", cover: "Fill the size, cropping what overflows" },
      },
      upscale: { label: "Enlarge smaller photos", help: "Photos smaller than the size are enlarged to it." },
      gravity: {
        label: "Keep in the frame",
        help: "When filling: which part of the photo stays.",
        choices: { center: "The middle", face: "Every face", smart: "Faces, else the most striking part" },
      },
    },
  },
};

const humanise = (name) => name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

/** The order tasks are offered and applied in: this table's, then any other operation. */
export function taskOrder(names) {
  const known = Object.keys(WORDS).filter((n) => names.includes(n));
  return [...known, ...names.filter((n) => !(n in WORDS)).sort()];
}

/** An operation in a person's words: `{task, help, preset}`. */
export function taskWords(spec) {
  const w = WORDS[spec.name] || {};
  return {
    task: spec.label || w.task || humanise(spec.name),
    help: spec.task_help || w.help || spec.summary || "",
    preset: spec.preset || w.preset || {},
  };
}

/** A parameter in a person's words: `{label, help, choices, perPhoto, photoChoice, suggestions}`. */
export function paramWords(opName, param) {
  const w = WORDS[opName]?.params?.[param.name] || {};
  return {
    label: param.label || w.label || humanise(param.name),
    help: param.plain_help ?? w.help ?? param.help ?? "",
    choices: param.choice_labels || w.choices || {},
    perPhoto: Boolean(w.perPhoto),
    photoChoice: Boolean(w.photoChoice),
    suggestions: w.suggestions || [],
  };
}

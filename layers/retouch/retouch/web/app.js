// The Retouch page, task first: add photos, choose what to do in plain words (every setting under
// "Adjust", generated from GET /operations, words included), start, see each photo's outcome,
// open a result full size to compare and to point at an eye or place a colour, re-run one
// photo, download. This module starts the page; each part is its own module.
import { Api, ApiError, beginSignIn, forgetSignIn, fragment, loadConfig, signIn, signOut } from "./api.js";
import { setUpCards } from "./cards.js";
import { $, el, showAlert } from "./dom.js";
import { openFromAddress, setUpHistory } from "./history.js";
import { rerun, setUpRun } from "./jobs.js";
import { setUpPhotos } from "./photos.js";
import { previewWithMarks } from "./preview.js";
import { setUpTasks } from "./settings.js";
import { state } from "./state.js";
import { setUpViewer } from "./viewer.js";
import { taskOrder } from "./words.js";

async function main() {
  // a sign-in link opened in a tab that shows the page already: sign in with it
  window.addEventListener("hashchange", () => fragment().has("token") && location.reload());
  try {
    state.config = await loadConfig();
    const token = await signIn(state.config);
    if (!token) return showSignIn();
    state.api = new Api(state.config.api_url || location.origin, token);
    const catalogue = await state.api.operations();
    state.limits = catalogue.limits; // what the service checks an upload against
    for (const op of catalogue.operations) state.catalogue.set(op.name, op);
    state.order = taskOrder(catalogue.operations);
    showAccount();
    setUpTasks(catalogue.output_formats);
    setUpPhotos();
    setUpRun();
    setUpHistory();
    setUpCards({ rerun });
    setUpViewer({ rerun, previewWithMarks });
    $("#app").hidden = false;
    document.body.dataset.readyAt = String(Math.round(performance.now()));
    document.body.dataset.ready = "true";
    await openFromAddress();
    window.addEventListener("hashchange", openFromAddress);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetSignIn();
      return showSignIn("Your sign-in is not valid any more.");
    }
    showAlert(`The page could not start: ${error.message}`);
  }
}

function showSignIn(reason = "") {
  $("#signin").hidden = false;
  $("#account").replaceChildren();
  const local = state.config?.auth?.mode !== "cognito";
  const text = $("#signin-text");
  if (local) {
    text.replaceChildren(
      reason ? `${reason} ` : "",
      "Open this page from the link ",
      el("code", { text: "retouch local" }),
      " prints: it ends in ",
      el("code", { text: "#token=…" }),
      ".",
    );
  } else {
    text.textContent = `${reason} Sign in with your Retouch account to process photos.`.trim();
  }
  const button = $("#signin-button");
  button.hidden = local;
  button.onclick = () => beginSignIn(state.config).catch((error) => showAlert(`Sign-in is not possible: ${error.message}`));
}

function showAccount() {
  const local = state.config.auth.mode !== "cognito";
  $("#account").replaceChildren(
    el("span", { class: "hint", text: local ? "Signed in on this computer" : "Signed in" }),
    el("button", { type: "button", class: "secondary", onclick: () => signOut(state.config) }, "Sign out"),
  );
}

main();

/**
 * The dashboard: sign in, then a hash route per view (#/clusters, #/create, #/cluster/NAME?region=R,
 * #/admin). Each view is a function (main, params) → stop(); the next route stops the previous one
 * (its timers and streams). The cluster list comes with the page; the other views load when first
 * shown (import()), so the first load fetches only what the list needs.
 */
import { session, tokenKind, whenUnauthorized } from "./api.js";
import { clustersView } from "./clusters.js";
import { fill, h } from "./dom.js";

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const who = /** @type {HTMLElement} */ (document.getElementById("who"));
const signOutButton = /** @type {HTMLButtonElement} */ (document.getElementById("signout"));

/** @type {() => void} */
let stopView = () => {};
/** A message the sign-in page shows once (why the user was signed out). */
let notice = "";

/** Shows a route: by the hashchange event when the hash changes, else now. */
function go(/** @type {string} */ hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function signOut(/** @type {string} */ why = "") {
  session.forget();
  notice = why;
  go("#/");
}

signOutButton.addEventListener("click", () => signOut("Signed out."));
whenUnauthorized(() => signOut("The server no longer accepts your token: sign in again."));

function signInView() {
  nav.hidden = true;
  signOutButton.hidden = true;
  fill(who);
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-help token-error",
  });
  const error = h("p", { id: "token-error", class: "error", role: "alert" }, notice);
  notice = "";
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card signin",
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        const token = /** @type {HTMLInputElement} */ (input).value.trim();
        if (!token) {
          fill(error, "Enter a token.");
          return;
        }
        button.setAttribute("disabled", "");
        fill(error);
        try {
          const kind = await tokenKind(token);
          if (!kind) {
            fill(error, "That token is not valid: the server does not know it.");
            /** @type {HTMLInputElement} */ (input).select();
            return;
          }
          session.set(token, kind);
          go(kind === "admin" ? "#/admin" : "#/clusters");
        } catch (failure) {
          fill(error, `The server did not answer: ${failure instanceof Error ? failure.message : failure}`);
        } finally {
          button.removeAttribute("disabled");
        }
      },
    },
    h("h1", { tabindex: "-1" }, "Sign in"),
    h("label", { for: "token" }, "Token"),
    input,
    h(
      "p",
      { id: "token-help", class: "hint" },
      "A profile's token (from your admin) or the admin token. It is kept in this tab only and forgotten when you sign out or close the tab.",
    ),
    error,
    button,
  );
  fill(main, form);
  input.focus();
  return () => {};
}

function header() {
  const kind = session.kind;
  const current = location.hash.split("?")[0];
  const link = (/** @type {string} */ href, /** @type {string} */ label) =>
    h("a", { href, "aria-current": current === href ? "page" : undefined }, label);
  fill(
    nav,
    kind === "admin"
      ? [link("#/admin", "Profiles")]
      : [link("#/clusters", "Clusters"), link("#/create", "Create")],
  );
  nav.hidden = false;
  signOutButton.hidden = false;
  fill(who, kind === "admin" ? "admin" : "profile");
}

/** Counts route() calls: a view whose module arrives after the next route() is stopped at once. */
let routes = 0;

function route() {
  routes++;
  stopView();
  stopView = () => {};
  if (!session.token) {
    stopView = signInView();
    return;
  }
  const [path = "", query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path
    .split("/")
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part; // a malformed %-sequence typed into the address bar
      }
    });
  const admin = session.kind === "admin";
  header();
  main.replaceChildren();
  if (!admin && parts[0] !== "create" && !(parts[0] === "cluster" && parts[1])) {
    show(clustersView(main));
    return;
  }
  const ticket = routes;
  /** @type {Promise<() => () => void>} */
  const load = admin
    ? import("./admin.js").then((m) => () => m.adminView(main))
    : parts[0] === "create"
      ? import("./create.js").then((m) => () => m.createView(main))
      : import("./cluster.js").then(
          (m) => () => m.clusterView(main, parts[1] ?? "", params.get("region") ?? ""),
        );
  load.then(
    (view) => {
      // Shown only if the user has not gone elsewhere while the module loaded.
      if (ticket === routes) show(view());
    },
    (error) => {
      if (ticket === routes)
        fill(main, h("p", { class: "error", role: "alert" }, `Could not load the page: ${error.message}`));
    },
  );
}

/** @param {() => void} stop */
function show(stop) {
  stopView = stop;
  // Keyboard and screen-reader users land on the new view's heading.
  main.querySelector("h1")?.focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
// The skip link moves the focus without touching the hash (the hash is the route).
document.querySelector(".skip")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
route();

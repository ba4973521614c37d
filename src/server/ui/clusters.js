/** The profile's clusters, one row each, refreshed every few seconds while shown. */
import { api } from "./api.js";
import { age, badge, clusterHref, fill, h, sleep } from "./dom.js";

const REFRESH_MS = 2000;

/** @param {HTMLElement} main */
export function clustersView(main) {
  const controller = new AbortController();
  const body = h("tbody");
  const state = h("p", { class: "hint", role: "status" }, "Loading…");
  const showDeleted = h("input", { type: "checkbox", id: "show-deleted" });
  const table = h(
    "table",
    { class: "list clusters" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Stack name", "Region", "Status", "Size", "Age"].map((title) => h("th", { scope: "col" }, title)),
      ),
    ),
    body,
  );
  fill(
    main,
    h(
      "div",
      { class: "heading" },
      h("h1", { tabindex: "-1" }, "Clusters"),
      h("a", { class: "button", href: "#/create" }, "Create a cluster"),
    ),
    h("p", { class: "options" }, h("label", null, showDeleted, " Show deleted clusters")),
    state,
    h("div", { class: "scroll" }, table),
  );
  showDeleted.addEventListener("change", () => refresh());

  /** @type {any[]} */
  let clusters = [];
  function render() {
    const now = Date.now();
    fill(
      body,
      clusters.map((cluster) =>
        h(
          "tr",
          { "data-name": cluster.stack_name },
          h(
            "td",
            { "data-label": "Stack name" },
            h("a", { href: clusterHref(cluster.stack_name, cluster.region) }, cluster.stack_name),
            // The reconciler's image warning: outdated, deprecated or gone, and the command to run.
            cluster.image_warning ? h("span", { class: "sub image-warning" }, cluster.image_warning) : null,
          ),
          h("td", { "data-label": "Region" }, cluster.region),
          h("td", { "data-label": "Status", class: "status-cell" }, badge(cluster.status)),
          h("td", { "data-label": "Size", class: "number" }, cluster.cluster_size),
          h(
            "td",
            { "data-label": "Age" },
            h(
              "time",
              { datetime: cluster.created_at, title: cluster.created_at },
              age(cluster.created_at, now),
            ),
          ),
        ),
      ),
    );
  }

  let pending = false;
  async function refresh() {
    if (pending) return;
    pending = true;
    try {
      const all = /** @type {HTMLInputElement} */ (showDeleted).checked;
      clusters = await api("GET", all ? "/clusters?include_deleted=true" : "/clusters", {
        signal: controller.signal,
      });
      render();
      fill(
        state,
        clusters.length === 0
          ? "No clusters yet."
          : `${clusters.length} cluster${clusters.length === 1 ? "" : "s"}, updated live.`,
      );
    } catch (error) {
      if (!controller.signal.aborted)
        fill(state, `Could not load the clusters: ${error instanceof Error ? error.message : error}`);
    } finally {
      pending = false;
    }
  }

  (async () => {
    while (!controller.signal.aborted) {
      // A hidden tab asks nothing; it catches up when shown again.
      if (!document.hidden) await refresh();
      await sleep(REFRESH_MS, controller.signal);
    }
  })();
  return () => controller.abort();
}

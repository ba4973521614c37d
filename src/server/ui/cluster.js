/**
 * One cluster: its status, why it failed, its image warning, its nodes and DNS names (from the
 * stored result), its events as they arrive, Upgrade (after its plan) and Delete (after typing the
 * cluster's name).
 */
import { ApiError, api, clusterPath, followEvents } from "./api.js";
import { age, badge, fill, h, sleep } from "./dom.js";
import { openUpgrade, upgradeJob } from "./upgrade.js";

const REFRESH_MS = 2000;

/** @param {HTMLElement} main @param {string} name @param {string} region */
export function clusterView(main, name, region) {
  // CloudFormation's stack name rule (argument_definitions.cson stack_name), at most 128 characters.
  const validName = /^[a-zA-Z][-a-zA-Z0-9]{0,127}$/.test(name);
  const controller = new AbortController();
  const { signal } = controller;
  const status = h("span", { id: "cluster-status", role: "status" }, "…");
  const facts = h("dl", { class: "facts" });
  const reasons = h("section", { id: "reasons", "aria-labelledby": "reasons-title", hidden: true });
  const nodes = h("section", { id: "nodes", "aria-labelledby": "nodes-title" });
  const dns = h("section", { id: "dns", "aria-labelledby": "dns-title" });
  const events = h("ol", { id: "events", class: "events" });
  const mode = h("span", { id: "events-mode", class: "hint" }, "connecting…");
  const problem = h("p", { class: "error", role: "alert" });
  const deleteButton = h(
    "button",
    { type: "button", class: "danger", onclick: () => confirmDelete() },
    "Delete",
  );
  const upgradeButton = h(
    "button",
    {
      type: "button",
      disabled: true,
      onclick: () =>
        openUpgrade(main, {
          name,
          region: region || cluster?.region,
          warning: cluster?.image_warning,
          started: (/** @type {any} */ started) => {
            setJob(started);
            renderJob();
          },
        }),
    },
    "Upgrade",
  );
  // The reconciler's last look at the image: outdated, deprecated or gone, and what to do.
  const imageNote = h("p", { id: "image-warning", class: "image-warning", role: "note", hidden: true });
  const jobNote = h("p", { id: "upgrade-state", role: "status", hidden: true });

  fill(
    main,
    h("p", { class: "back" }, h("a", { href: "#/clusters" }, "← Clusters")),
    h("div", { class: "heading" }, h("h1", { tabindex: "-1" }, name), status, upgradeButton, deleteButton),
    problem,
    imageNote,
    jobNote,
    facts,
    reasons,
    nodes,
    dns,
    h(
      "section",
      { "aria-labelledby": "events-title" },
      h("h2", { id: "events-title" }, "Events ", mode),
      events,
    ),
  );

  /** @type {any} */
  let cluster = null;
  /** The cluster's latest upgrade job (GET …/upgrade), null when it has none. */
  /** @type {any} */
  let job = null;
  const upgrading = () => job?.state === "running";
  /** A job started or ended since the events were last asked for: ask (a short job ends between two looks). */
  let eventsDue = false;
  /** @param {any} next */
  function setJob(next) {
    if (next?.id !== job?.id || next?.state !== job?.state) eventsDue = true;
    job = next;
  }
  function renderJob() {
    jobNote.hidden = !job;
    if (job) {
      const what =
        job.state === "running"
          ? "Upgrade running: its progress is in the events below."
          : `Upgrade ${job.state}${job.message ? `: ${job.message}` : ""}`;
      fill(jobNote, what);
      jobNote.className = `upgrade-${job.state}`;
    }
    if (cluster) render();
  }
  function render() {
    fill(status, badge(cluster.status));
    const busy =
      cluster.status === "deleting" ||
      cluster.status === "deleted" ||
      cluster.status === "creating" ||
      upgrading();
    deleteButton.toggleAttribute("disabled", busy);
    upgradeButton.toggleAttribute("disabled", cluster.status !== "online" || upgrading());
    imageNote.hidden = !cluster.image_warning;
    fill(imageNote, cluster.image_warning?.warning ?? "");
    const info = cluster.result?.cluster ?? {};
    const pair = (/** @type {string} */ term, /** @type {unknown} */ value) =>
      value === undefined || value === null || value === ""
        ? null
        : [h("dt", null, term), h("dd", null, String(value))];
    fill(
      facts,
      pair("Region", cluster.region),
      pair("Size", cluster.cluster_size),
      pair("Created", `${cluster.created_at} (${age(cluster.created_at)} ago)`),
      pair("Updated", cluster.updated_at),
      pair("Instance type", info.instance_type),
      pair("Channel", info.channel && `${info.channel} (${info.arch ?? ""})`),
      pair("Image", info.image_id),
      pair("Stack", info.stack_id),
      pair("Result", cluster.result?.message),
    );
    const why = [...(cluster.reasons ?? []), ...(cluster.result?.reasons ?? [])].filter(
      (r, i, all) => all.indexOf(r) === i,
    );
    reasons.hidden = why.length === 0;
    fill(
      reasons,
      h("h2", { id: "reasons-title" }, "Why it failed"),
      h(
        "ul",
        { class: "reasons" },
        why.map((r) => h("li", null, r)),
      ),
    );
    renderNodes(info.nodes ?? [], info.dns);
    renderDns(info.dns);
  }

  /** @param {any[]} list @param {any} zone */
  function renderNodes(list, zone) {
    const roles = list.some((node) => node.role);
    // A node's DNS name: the private record that points at its address alone.
    const names = new Map();
    for (const record of zone?.records ?? [])
      if (record.values?.length === 1) names.set(record.values[0], record.name);
    const columns = ["Name", ...(roles ? ["Role"] : []), "Zone", "Private IP", "Public IP"];
    fill(
      nodes,
      h("h2", { id: "nodes-title" }, `Nodes (${list.length})`),
      list.length === 0
        ? h("p", { class: "hint" }, "No nodes known yet.")
        : h(
            "div",
            { class: "scroll" },
            h(
              "table",
              { class: "list nodes" },
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  columns.map((c) => h("th", { scope: "col" }, c)),
                ),
              ),
              h(
                "tbody",
                null,
                list.map((node) =>
                  h(
                    "tr",
                    { "data-instance": node.instance_id },
                    h(
                      "td",
                      { "data-label": "Name" },
                      node.name ?? node.instance_id,
                      names.has(node.private_ip)
                        ? h("span", { class: "sub" }, names.get(node.private_ip))
                        : null,
                    ),
                    roles ? h("td", { "data-label": "Role" }, node.role ?? "") : null,
                    h("td", { "data-label": "Zone" }, node.availability_zone ?? ""),
                    h("td", { "data-label": "Private IP", class: "ip private-ip" }, node.private_ip ?? "—"),
                    h("td", { "data-label": "Public IP", class: "ip public-ip" }, node.public_ip ?? "—"),
                  ),
                ),
              ),
            ),
          ),
    );
  }

  /** @param {any} zone */
  function renderDns(zone) {
    const names = [
      ...(zone?.public_name ? [{ name: zone.public_name, values: ["public name"] }] : []),
      ...(zone?.records ?? []),
    ];
    fill(
      dns,
      h("h2", { id: "dns-title" }, "DNS names"),
      names.length === 0
        ? h("p", { class: "hint" }, "None yet.")
        : h(
            "ul",
            { class: "dns" },
            zone?.private_zone ? h("li", null, "Private zone ", h("code", null, zone.private_zone)) : null,
            names.map((record) =>
              h("li", null, h("code", null, record.name), " → ", (record.values ?? []).join(", ")),
            ),
          ),
    );
  }

  function addEvent(/** @type {any} */ event) {
    const detail = [event.resource, event.resource_type, event.status].filter(Boolean).join(" ");
    events.append(
      h(
        "li",
        { class: `event step-${String(event.step ?? "").replace(/[^a-z]/g, "")}` },
        h("time", { datetime: event.time }, event.time ? new Date(event.time).toLocaleTimeString() : ""),
        " ",
        h("span", { class: "step" }, event.step ?? ""),
        " ",
        h("span", { class: "message" }, event.message ?? ""),
        detail ? h("span", { class: "sub" }, detail) : null,
        event.reason ? h("span", { class: "reason" }, event.reason) : null,
      ),
    );
  }

  async function refresh() {
    // A name no cluster can have is never asked for: a URL resolves "." and ".." (also written
    // %2e%2e) as path steps, so #/cluster/.. asked for /clusters/.. = / and showed the API's own
    // document as a cluster. An answer about another name is no answer either.
    if (!validName) {
      fill(problem, `No cluster named ${name}.`);
      return;
    }
    try {
      const answer = await api("GET", clusterPath(name, region), { signal });
      if (answer?.stack_name !== name) throw new ApiError(404, { error: "not found" });
      cluster = answer;
      if (answer.status === "online") setJob(await upgradeJob(name, region || answer.region, signal));
      fill(problem);
      renderJob();
      render();
    } catch (error) {
      if (signal.aborted) return;
      fill(
        problem,
        error instanceof ApiError && error.status === 404
          ? `No cluster named ${name} in ${region || "any region"}.`
          : `Could not load the cluster: ${error instanceof Error ? error.message : error}`,
      );
    }
  }

  function confirmDelete() {
    const typed = h("input", {
      id: "confirm-name",
      name: "confirm_name",
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": "confirm-help",
    });
    const go = h("button", { type: "submit", class: "danger", disabled: true }, "Delete cluster");
    const error = h("p", { class: "error", role: "alert" });
    const dialog = /** @type {HTMLDialogElement} */ (
      h(
        "dialog",
        { "aria-labelledby": "confirm-title", onclose: () => dialog.remove() },
        h(
          "form",
          {
            onsubmit: async (/** @type {SubmitEvent} */ event) => {
              event.preventDefault();
              if (/** @type {HTMLInputElement} */ (typed).value !== name) return;
              go.setAttribute("disabled", "");
              try {
                await api("DELETE", clusterPath(name, region));
                dialog.close();
                await refresh();
              } catch (failure) {
                fill(error, failure instanceof Error ? failure.message : String(failure));
                go.removeAttribute("disabled");
              }
            },
          },
          h("h2", { id: "confirm-title" }, `Delete ${name}?`),
          h(
            "p",
            { id: "confirm-help" },
            "This deletes the stack and everything it made in AWS. Type the cluster's name to confirm.",
          ),
          h("label", { for: "confirm-name" }, "Cluster name"),
          typed,
          error,
          h(
            "div",
            { class: "actions" },
            h("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
            go,
          ),
        ),
      )
    );
    typed.addEventListener("input", () =>
      go.toggleAttribute("disabled", /** @type {HTMLInputElement} */ (typed).value !== name),
    );
    main.append(dialog);
    dialog.showModal();
    typed.focus();
  }

  (async () => {
    while (!signal.aborted) {
      if (!document.hidden || !cluster) await refresh();
      await sleep(REFRESH_MS, signal);
    }
  })();
  // The events route needs the region: the cluster's own once known.
  (async () => {
    if (!validName) return;
    while (!region && !signal.aborted) {
      if (cluster?.region) region = cluster.region;
      else await sleep(100, signal);
    }
    await followEvents(name, region, {
      signal,
      onEvent: addEvent,
      onEnd: (final) => {
        // The stream's last word is the cluster itself: show it now rather than at the next poll.
        if (final?.stack_name === name && final.status) {
          cluster = { ...cluster, ...final };
          render();
        }
      },
      active: () => {
        const due = eventsDue;
        eventsDue = false;
        return (
          due || !cluster || cluster.status === "creating" || cluster.status === "deleting" || upgrading()
        );
      },
      onMode: (how) =>
        fill(mode, how === "stream" ? "(live stream)" : `(refreshed every ${REFRESH_MS / 1000} s)`),
    });
  })();
  return () => controller.abort();
}

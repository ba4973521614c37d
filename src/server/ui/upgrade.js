/**
 * The cluster page's Upgrade action: a dialog that shows the image warning and the plan (a dry run
 * of POST /clusters/{name}/upgrade: which instances, old → new image, in what order), lets the
 * image, the workers' min-healthy percent and the etcd version be changed and planned again, and on confirm starts
 * the upgrade job (202). The page then follows the job (upgradeJob) and its events.
 */
import { ApiError, api } from "./api.js";
import { fill, h } from "./dom.js";

/**
 * @param {string} name
 * @param {string} region
 */
function upgradePath(name, region) {
  const path = `/clusters/${encodeURIComponent(name)}/upgrade`;
  return region ? `${path}?region=${encodeURIComponent(region)}` : path;
}

/** The cluster's latest upgrade job, or null when it has none. */
export async function upgradeJob(
  /** @type {string} */ name,
  /** @type {string} */ region,
  /** @type {AbortSignal} */ signal,
) {
  try {
    return await api("GET", upgradePath(name, region), { signal });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

/**
 * Opens the dialog in `main`; `started(job)` is called once the server accepted the upgrade.
 * @param {HTMLElement} main
 * @param {{name: string, region: string, warning: any, started: (job: any) => void}} options
 */
export function openUpgrade(main, { name, region, warning, started }) {
  const image = h("input", {
    id: "upgrade-image",
    name: "image_id",
    placeholder: "the channel's newest",
    autocomplete: "off",
    spellcheck: "false",
  });
  const minHealthy = h("input", {
    id: "upgrade-min-healthy",
    name: "min_healthy",
    type: "number",
    min: "0",
    max: "100",
    value: "90",
  });
  const etcdVersion = h("input", {
    id: "upgrade-etcd-version",
    name: "etcd_version",
    placeholder: "unchanged",
    autocomplete: "off",
    spellcheck: "false",
  });
  const plan = h("div", { id: "upgrade-plan", role: "status" }, "Planning…");
  const error = h("p", { class: "error", role: "alert" });
  const go = h("button", { type: "submit", disabled: true }, "Upgrade cluster");
  const body = () => {
    /** @type {Record<string, unknown>} */
    const fields = { min_healthy: Number(/** @type {HTMLInputElement} */ (minHealthy).value) };
    const id = /** @type {HTMLInputElement} */ (image).value.trim();
    if (id) fields.image_id = id;
    const etcd = /** @type {HTMLInputElement} */ (etcdVersion).value.trim();
    if (etcd) fields.etcd_version = etcd;
    return fields;
  };

  async function planIt() {
    go.setAttribute("disabled", "");
    fill(error);
    fill(plan, "Planning…");
    try {
      const planned = await api("POST", upgradePath(name, region), { body: { ...body(), dry_run: true } });
      const steps = [...(planned.plan?.controllers ?? []), ...(planned.plan?.workers ?? [])];
      fill(
        plan,
        h("p", null, planned.message),
        h(
          "p",
          null,
          "Image ",
          h("code", null, planned.image_from ?? "?"),
          " → ",
          h("code", null, planned.image_to),
        ),
        planned.etcd_to && planned.etcd_to !== planned.etcd_from
          ? h(
              "p",
              { class: "etcd-move" },
              "etcd ",
              h("code", null, planned.etcd_from ?? "?"),
              " → ",
              h("code", null, planned.etcd_to),
              " (the controllers, one at a time)",
            )
          : null,
        steps.length === 0
          ? null
          : h(
              "ol",
              { class: "plan" },
              steps.map((step) =>
                h(
                  "li",
                  null,
                  `${step.role} ${step.instance_id}${step.private_ip ? ` (${step.private_ip})` : ""}: `,
                  h("code", null, step.image_from ?? "?"),
                  " → ",
                  h("code", null, step.image_to),
                ),
              ),
            ),
      );
      go.removeAttribute("disabled");
    } catch (failure) {
      fill(plan);
      fill(error, failure instanceof Error ? failure.message : String(failure));
    }
  }

  const dialog = /** @type {HTMLDialogElement} */ (
    h(
      "dialog",
      { "aria-labelledby": "upgrade-title", onclose: () => dialog.remove() },
      h(
        "form",
        {
          onsubmit: async (/** @type {SubmitEvent} */ event) => {
            event.preventDefault();
            go.setAttribute("disabled", "");
            try {
              const accepted = await api("POST", upgradePath(name, region), { body: body() });
              dialog.close();
              started(accepted.job);
            } catch (failure) {
              fill(error, failure instanceof Error ? failure.message : String(failure));
              go.removeAttribute("disabled");
            }
          },
        },
        h("h2", { id: "upgrade-title" }, `Upgrade ${name}?`),
        warning ? h("p", { class: "image-warning" }, warning.warning) : null,
        h(
          "p",
          { class: "hint" },
          "The controllers are replaced one at a time, each only once the one before is back; the workers in batches that keep the min-healthy percent in service.",
        ),
        h("label", { for: "upgrade-image" }, "Image id (optional)"),
        image,
        h("label", { for: "upgrade-min-healthy" }, "Workers kept in service (%)"),
        minHealthy,
        h("label", { for: "upgrade-etcd-version" }, "etcd version (optional)"),
        etcdVersion,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", onclick: () => planIt() }, "Plan again"),
        ),
        plan,
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
  main.append(dialog);
  dialog.showModal();
  void planIt();
}

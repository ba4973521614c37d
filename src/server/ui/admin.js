/**
 * How a profile reaches AWS (GET /profiles' access): a role with the external id to put in its
 * trust policy; static keys, marked as what a security review flags; or the server's credentials.
 * @param {any} profile
 */
function access(profile) {
  if (profile.access === "role") {
    return [
      h("span", { class: "kind" }, "Role"),
      h("code", { class: "role-arn" }, profile.role_arn),
      h("span", { class: "external-id" }, "External ID ", h("code", null, profile.external_id)),
    ];
  }
  if (profile.access === "static-keys") {
    return h(
      "span",
      {
        class: "kind warning",
        title: "A long-lived access key is stored for this profile: give it a role instead",
      },
      "Static keys",
    );
  }
  return h("span", { class: "kind" }, "Server's");
}

/** The admin's page: the profiles, a form to create one (its token shown once), Delete per profile. */
import { ApiError, api } from "./api.js";
import { age, fill, h } from "./dom.js";

/** @param {HTMLElement} main */
export function adminView(main) {
  const controller = new AbortController();
  const body = h("tbody");
  const state = h("p", { class: "hint", role: "status" }, "Loading…");
  const created = h("div", { id: "created-token", "aria-live": "polite" });
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Profiles"),
    state,
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "list profiles" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Name", "Email", "AWS access", "Max clusters", "Age", ""].map((t) =>
              h("th", { scope: "col" }, t),
            ),
          ),
        ),
        body,
      ),
    ),
    created,
    profileForm(created, () => load()),
  );

  async function load() {
    try {
      const profiles = await api("GET", "/profiles", { signal: controller.signal });
      fill(
        state,
        profiles.length === 0
          ? "No profiles yet."
          : `${profiles.length} profile${profiles.length === 1 ? "" : "s"}.`,
      );
      fill(
        body,
        profiles.map((/** @type {any} */ profile) =>
          h(
            "tr",
            { "data-name": profile.name },
            h("td", { "data-label": "Name" }, profile.name),
            h("td", { "data-label": "Email" }, profile.email),
            h("td", { "data-label": "AWS access", class: `access ${profile.access ?? ""}` }, access(profile)),
            h("td", { "data-label": "Max clusters", class: "number" }, profile.max_clusters ?? ""),
            h("td", { "data-label": "Age" }, age(profile.created_at)),
            h("td", null, deleteButton(profile.name, load, state)),
          ),
        ),
      );
    } catch (error) {
      if (!controller.signal.aborted)
        fill(state, `Could not load the profiles: ${error instanceof Error ? error.message : error}`);
    }
  }
  load();
  return () => controller.abort();
}

/** Delete, then "Really delete NAME?" on the same button (a second, deliberate press). */
function deleteButton(
  /** @type {string} */ name,
  /** @type {() => void} */ reload,
  /** @type {HTMLElement} */ state,
) {
  let armed = false;
  const button = h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-label": `Delete profile ${name}`,
      onclick: async () => {
        if (!armed) {
          armed = true;
          fill(button, `Really delete ${name}?`);
          button.setAttribute("aria-label", `Really delete profile ${name}?`);
          return;
        }
        button.setAttribute("disabled", "");
        try {
          await api("DELETE", `/profiles/${encodeURIComponent(name)}`);
          fill(state, `Deleted profile ${name}.`);
          reload();
        } catch (error) {
          fill(state, error instanceof Error ? error.message : String(error));
          button.removeAttribute("disabled");
        }
      },
      onblur: () => {
        armed = false;
        fill(button, "Delete");
        button.setAttribute("aria-label", `Delete profile ${name}`);
      },
    },
    "Delete",
  );
  return button;
}

/** @param {HTMLElement} created @param {() => void} reload */
function profileForm(created, reload) {
  /** @type {Record<string, HTMLElement>} */
  const errors = {};
  const field = (
    /** @type {string} */ name,
    /** @type {string} */ label,
    /** @type {HTMLElement} */ input,
    /** @type {string} */ help = "",
  ) => {
    input.id = `profile-${name}`;
    input.setAttribute("name", name);
    input.setAttribute("aria-describedby", `profile-${name}-error`);
    errors[name] = h("p", { class: "field-error", id: `profile-${name}-error` });
    return h(
      "div",
      { class: "field" },
      h("label", { for: input.id }, label),
      input,
      help ? h("p", { class: "hint" }, help) : null,
      errors[name],
    );
  };
  const text = (/** @type {Record<string, unknown>} */ extra = {}) =>
    h("input", { type: "text", autocomplete: "off", spellcheck: "false", ...extra });
  const inputs = {
    name: text({ required: true }),
    email: text({ type: "email", required: true }),
    public_keys: h("textarea", { rows: 3, spellcheck: "false" }),
    max_clusters: text({
      type: "number",
      min: 0,
      step: 1,
      inputmode: "numeric",
      placeholder: "the server's default",
    }),
    aws_id: text(),
    aws_secret: text({ type: "password" }),
    aws_region: text({ placeholder: "the server's" }),
    role_arn: text({ placeholder: "arn:aws:iam::123456789012:role/pandacluster-…", spellcheck: "false" }),
  };
  const general = h("div", { class: "error", role: "alert" });
  const value = (/** @type {HTMLElement} */ input) => /** @type {HTMLInputElement} */ (input).value.trim();
  const form = h(
    "form",
    {
      class: "card",
      novalidate: true,
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        for (const slot of Object.values(errors)) fill(slot);
        fill(general);
        /** @type {Record<string, unknown>} */
        const body = { name: value(inputs.name), email: value(inputs.email) };
        const keys = value(inputs.public_keys)
          .split("\n")
          .map((k) => k.trim())
          .filter(Boolean);
        if (keys.length > 0) body.public_keys = keys;
        const quota = value(inputs.max_clusters);
        if (quota !== "") body.max_clusters = /^\d+$/.test(quota) ? Number(quota) : quota;
        if (value(inputs.role_arn)) body.role_arn = value(inputs.role_arn);
        if (value(inputs.aws_id) || value(inputs.aws_secret)) {
          body.aws = {
            id: value(inputs.aws_id),
            secret: value(inputs.aws_secret),
            ...(value(inputs.aws_region) ? { region: value(inputs.aws_region) } : {}),
          };
        } else if (value(inputs.aws_region)) body.aws = { region: value(inputs.aws_region) };
        try {
          const answer = await api("POST", "/profiles", { body });
          /** @type {HTMLFormElement} */ (form).reset();
          showToken(created, answer.name, answer.token);
          reload();
        } catch (error) {
          if (!(error instanceof ApiError)) {
            fill(general, String(error));
            return;
          }
          const others = [];
          for (const problem of error.problems) {
            // aws.secret → the aws_secret input; public_keys[1] → public_keys.
            const key = String(problem.field ?? "")
              .replace(/\[\d+\]$/, "")
              .replace(".", "_");
            const slot = errors[key];
            if (slot) slot.append(document.createTextNode(`${problem.message} `));
            else others.push(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
          }
          fill(
            general,
            `The server refused the profile (${error.status}).`,
            others.length
              ? h(
                  "ul",
                  null,
                  others.map((m) => h("li", null, m)),
                )
              : null,
          );
        }
      },
    },
    h("h2", null, "New profile"),
    general,
    field("name", "Name", inputs.name, "lower-case letters, digits, - _ ."),
    field("email", "Email", inputs.email),
    field(
      "public_keys",
      "SSH public keys",
      inputs.public_keys,
      "One per line; put on every node of this profile's clusters.",
    ),
    field(
      "max_clusters",
      "Max clusters",
      inputs.max_clusters,
      "Live clusters this profile may have at once.",
    ),
    h(
      "details",
      null,
      h("summary", null, "AWS access (optional; else the server's credentials)"),
      field(
        "role_arn",
        "IAM role ARN",
        inputs.role_arn,
        "Recommended: the server assumes this role; its trust policy needs the external ID shown after creation (doc/iam).",
      ),
      field("aws_id", "AWS access key id", inputs.aws_id, "Static keys: only where a role is not possible."),
      field("aws_secret", "AWS secret access key", inputs.aws_secret, "Stored encrypted; never shown again."),
      field("aws_region", "AWS region", inputs.aws_region),
    ),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Create profile")),
  );
  return form;
}

/** The new token, once: a read-only field to select and a Copy button. */
function showToken(/** @type {HTMLElement} */ slot, /** @type {string} */ name, /** @type {string} */ token) {
  const output = h("input", {
    id: "new-token",
    type: "text",
    readonly: true,
    value: token,
    "aria-label": `Token of ${name}`,
  });
  const said = h("span", { class: "hint", role: "status" });
  const copy = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(token);
          fill(said, "Copied.");
        } catch {
          /** @type {HTMLInputElement} */ (output).select();
          fill(said, "Select and copy it (Ctrl+C): the browser refused the clipboard.");
        }
      },
    },
    "Copy",
  );
  fill(
    slot,
    h(
      "div",
      { class: "card token" },
      h("h2", null, `Token of ${name}`),
      h(
        "p",
        null,
        "Shown once: copy it now and give it to the profile's owner. The server keeps only its hash.",
      ),
      h("div", { class: "copy" }, output, copy),
      said,
      h("button", { type: "button", onclick: () => fill(slot) }, "Done"),
    ),
  );
  output.focus();
  /** @type {HTMLInputElement} */ (output).select();
}

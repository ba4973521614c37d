/**
 * The create form, generated from the server's request schema for POST /clusters (which the
 * server derives from src/argument_definitions.cson): one input per argument, named after it,
 * with its default and its allowed values. A field is sent when it is required or differs from
 * its default, so defaults that depend on other fields stay the server's. The browser's own
 * validation is off: the API's messages are shown, each beside its field.
 */
import { ApiError, api, createFields } from "./api.js";
import { clusterHref, fill, h } from "./dom.js";

/**
 * @typedef {{type?: string | string[], enum?: string[], default?: unknown, minimum?: number,
 *   maximum?: number, maxLength?: number, description?: string, format?: string}} FieldSchema
 */

/** @param {HTMLElement} main */
export function createView(main) {
  const controller = new AbortController();
  fill(
    main,
    h("h1", { tabindex: "-1" }, "Create a cluster"),
    h("p", { class: "hint", role: "status" }, "Loading the form…"),
  );
  createFields()
    .then((schema) => {
      if (!controller.signal.aborted)
        fill(main, h("h1", { tabindex: "-1" }, "Create a cluster"), form(schema));
    })
    .catch((error) => {
      fill(
        main,
        h("h1", null, "Create a cluster"),
        h("p", { class: "error", role: "alert" }, `Could not load the form: ${error.message}`),
      );
    });
  return () => controller.abort();
}

/** @param {{properties: Record<string, FieldSchema>, required?: string[]}} schema */
function form(schema) {
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties).map(([name, field]) =>
    control(name, field, required.has(name)),
  );
  const general = h("div", { class: "error", role: "alert", id: "form-error" });
  const result = h("div", { id: "form-result" });
  const button = h("button", { type: "submit" }, "Create");
  const element = h(
    "form",
    {
      class: "card create",
      novalidate: true,
      "aria-describedby": "form-error",
      onsubmit: async (/** @type {SubmitEvent} */ event) => {
        event.preventDefault();
        for (const field of fields) field.show([]);
        fill(general);
        fill(result);
        /** @type {Record<string, unknown>} */
        const body = {};
        let bad = false;
        for (const field of fields) {
          const read = field.read();
          if (read.problem) {
            field.show([read.problem]);
            bad = true;
          } else if (read.send) body[field.name] = read.value;
        }
        if (bad) return focusFirstError(element);
        button.setAttribute("disabled", "");
        try {
          const answer = await api("POST", "/clusters", {
            body,
            headers: crypto.randomUUID ? { "idempotency-key": crypto.randomUUID() } : {},
          });
          if (answer?.dry_run) {
            fill(
              result,
              h("h2", null, "Dry run: nothing was created"),
              h("pre", { class: "json" }, JSON.stringify(answer.result, null, 2)),
            );
            return;
          }
          location.hash = clusterHref(answer.stack_name, answer.region);
        } catch (error) {
          if (!(error instanceof ApiError)) {
            fill(general, `The server did not answer: ${error instanceof Error ? error.message : error}`);
            return;
          }
          /** @type {Map<string, string[]>} */
          const byField = new Map();
          const others = [];
          for (const problem of error.problems) {
            // units[0].content belongs to the units field.
            const top = String(problem.field ?? "").split(/[.[]/)[0] ?? "";
            const field = fields.find((f) => f.name === top);
            if (field) byField.set(field.name, [...(byField.get(field.name) ?? []), problem.message]);
            else others.push(problem.field ? `${problem.field}: ${problem.message}` : problem.message);
          }
          for (const field of fields) field.show(byField.get(field.name) ?? []);
          fill(
            general,
            byField.size > 0
              ? `The server refused the request (${error.status}): see the fields marked below.`
              : `The server refused the request (${error.status}).`,
            others.length > 0
              ? h(
                  "ul",
                  null,
                  others.map((m) => h("li", null, m)),
                )
              : null,
          );
          focusFirstError(element);
        } finally {
          button.removeAttribute("disabled");
        }
      },
    },
    general,
    fields.map((field) => field.element),
    h("div", { class: "actions" }, button),
    result,
  );
  return element;
}

/** @param {HTMLElement} form */
function focusFirstError(form) {
  const invalid = /** @type {HTMLElement | null} */ (form.querySelector("[aria-invalid=true]"));
  (invalid ?? form.querySelector("#form-error"))?.focus?.();
}

/**
 * One argument's label, input, help and error slot.
 * @param {string} name
 * @param {FieldSchema} field
 * @param {boolean} isRequired
 */
function control(name, field, isRequired) {
  const id = `field-${name}`;
  const types = Array.isArray(field.type) ? field.type : [field.type];
  const kind = field.enum
    ? "select"
    : types.includes("object")
      ? "json"
      : types[0] === "integer"
        ? "integer"
        : types[0] === "boolean"
          ? "boolean"
          : "text";
  const describedBy = `${id}-help ${id}-error`;
  const common = {
    id,
    name,
    "aria-describedby": describedBy,
    required: isRequired,
    "aria-required": isRequired ? "true" : undefined,
  };
  /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */
  let input;
  let initial = "";
  switch (kind) {
    case "select": {
      initial = field.default === undefined ? "" : String(field.default);
      const options = (field.enum ?? []).map((value) =>
        h("option", { value, selected: value === initial }, value),
      );
      input = /** @type {HTMLSelectElement} */ (
        h(
          "select",
          common,
          field.default === undefined
            ? h("option", { value: "" }, isRequired ? "(choose)" : "(server default)")
            : null,
          options,
        )
      );
      break;
    }
    case "boolean":
      initial = field.default === true ? "true" : "false";
      input = /** @type {HTMLInputElement} */ (
        h("input", { ...common, type: "checkbox", checked: field.default === true })
      );
      break;
    case "integer":
      initial = field.default === undefined ? "" : String(field.default);
      input = /** @type {HTMLInputElement} */ (
        h("input", {
          ...common,
          type: "number",
          inputmode: "numeric",
          step: 1,
          min: field.minimum,
          max: field.maximum,
          value: initial,
        })
      );
      break;
    case "json":
      input = /** @type {HTMLTextAreaElement} */ (
        h("textarea", { ...common, rows: 4, spellcheck: "false", placeholder: "JSON" })
      );
      break;
    default:
      input = /** @type {HTMLInputElement} */ (
        h("input", {
          ...common,
          type: "text",
          inputmode: field.format === "uri" ? "url" : undefined,
          autocomplete: "off",
          spellcheck: "false",
          maxlength: field.maxLength,
          placeholder: field.default === undefined ? undefined : String(field.default),
        })
      );
  }
  const description = field.description ?? "";
  const help = [description && !/[.)]$/.test(description) ? `${description}.` : description];
  if (field.default !== undefined && kind !== "boolean") help.push(`Default: ${field.default}.`);
  if (field.minimum !== undefined || field.maximum !== undefined)
    help.push(`From ${field.minimum ?? "…"} to ${field.maximum ?? "…"}.`);
  const error = h("p", { id: `${id}-error`, class: "field-error" });
  const label = h(
    "label",
    { for: id },
    name,
    isRequired ? h("span", { class: "required" }, " (required)") : null,
  );
  const element = h(
    "div",
    { class: `field field-${kind}`, "data-field": name },
    kind === "boolean" ? h("div", { class: "check" }, input, label) : [label, input],
    h("p", { id: `${id}-help`, class: "hint" }, help.join(" ")),
    error,
  );

  return {
    name,
    element,
    /** @returns {{send: boolean, value?: unknown, problem?: string}} */
    read() {
      if (kind === "boolean") {
        const checked = /** @type {HTMLInputElement} */ (input).checked;
        return { send: String(checked) !== initial, value: checked };
      }
      const raw = input.value.trim();
      if (raw === "" || (raw === initial && !isRequired)) return { send: false };
      if (kind === "integer") return { send: true, value: /^-?\d+$/.test(raw) ? Number(raw) : raw };
      if (kind === "json") {
        try {
          return { send: true, value: JSON.parse(raw) };
        } catch (error) {
          return { send: false, problem: `is not JSON (${error instanceof Error ? error.message : error})` };
        }
      }
      return { send: true, value: raw };
    },
    /** @param {string[]} messages */
    show(messages) {
      fill(error, messages.join(" "));
      if (messages.length > 0) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    },
  };
}

/**
 * Building DOM nodes. Text is only ever set as text (text nodes, textContent): a string from the
 * API or from AWS can never become markup. The page's Content-Security-Policy enforces it too
 * (Trusted Types: assigning HTML strings throws).
 */

/**
 * h("p", {class: "x"}, "text", child, [more]): an element; attributes as attributes (on* as
 * listeners, booleans as present or absent), children as nodes or text.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attributes]
 * @param {...unknown} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === "value" || name === "checked") {
      // @ts-expect-error a property of input-like elements
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** @param {Element} element @param {unknown[]} children */
function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. @param {Element} element @param {...unknown} children */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** "3 min", "2 h", "4 d" since an ISO time. @param {string} iso @param {number} [now] */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** A status word as a badge. @param {string} status */
export function badge(status) {
  return h("span", { class: `status status-${String(status).replace(/[^a-z]/g, "")}` }, status);
}

/** A pause that an AbortSignal ends early. @param {number} ms @param {AbortSignal} signal */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/** The dashboard's address of a cluster's page. @param {string} name @param {string} region */
export function clusterHref(name, region) {
  return `#/cluster/${encodeURIComponent(name)}?region=${encodeURIComponent(region)}`;
}

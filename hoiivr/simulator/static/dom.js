// Helpers shared by the page's scripts: making elements, calling the control API, errors.

export const $ = (id) => document.getElementById(id);

/** A new element: el("li", {class: "x", onclick: f}, "text", child). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Calls the control API; resolves to the JSON reply, rejects with its error message. */
export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new Error(`the simulator does not answer (${err.message}); is it still running?`);
  }
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error(reply.error || `${method} ${path}: HTTP ${response.status}`);
    err.status = response.status;
    throw err;
  }
  return reply;
}

let errorTimer;

/** Shows an error in the page's alert line for a few seconds. */
export function showError(err) {
  const box = $("error");
  box.textContent = err instanceof Error ? err.message : String(err);
  box.hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(hideError, 8000);
}

/** Hides the alert line (the trouble it told of is over). */
export function hideError() {
  clearTimeout(errorTimer);
  $("error").hidden = true;
}

/**
 * Makes the children of `list` match `items`, in order. An item whose JSON did not change
 * keeps its element, so an open <details> or a playing <audio> survives the next poll; a
 * changed one is rendered again, keeping its <details> open and its focus.
 */
export function syncList(list, items, key, render) {
  const old = new Map([...list.children].map((node) => [node.dataset.key, node]));
  let previous = null;
  for (const item of items) {
    const id = String(key(item));
    const sig = JSON.stringify(item);
    let node = old.get(id);
    old.delete(id);
    if (!node || node.dataset.sig !== sig) {
      const fresh = render(item);
      fresh.dataset.key = id;
      fresh.dataset.sig = sig;
      if (node) carryOver(node, fresh);
      node = fresh;
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (node !== expected) list.insertBefore(node, expected);
    previous = node;
  }
  for (const node of old.values()) node.remove();
}

function carryOver(stale, fresh) {
  const open = [...stale.querySelectorAll("details")].map((d) => d.open);
  fresh.querySelectorAll("details").forEach((d, i) => { d.open = Boolean(open[i]); });
  const focused = stale.contains(document.activeElement);
  stale.replaceWith(fresh);
  if (focused) fresh.querySelector("button, summary, select, a")?.focus();
}

/** A <dl> of [term, value] pairs, skipping empty values. */
export function fillTerms(dl, pairs) {
  const given = pairs.filter(([, value]) => value !== null && value !== undefined && value !== "");
  dl.replaceChildren(...given.flatMap(([term, value]) => [el("dt", {}, term),
                                                          el("dd", {}, value)]));
}

/** A two-column table of an object's fields. */
export function fieldTable(fields, caption) {
  return el("table", { class: "fields" },
    el("caption", { class: "sr-only" }, caption),
    el("tbody", {}, Object.entries(fields || {}).map(([name, value]) =>
      el("tr", {}, el("th", { scope: "row" }, name), el("td", {}, String(value))))));
}

// The settings panels: how each destination phone behaves, and fault injection.

import { $, api, el, showError, syncList } from "./dom.js";

const BEHAVIOURS = ["answer", "busy", "unanswered", "failed", "manual"];
/** The option's words, where the behaviour's name alone does not say enough. */
const LABELS = { manual: "manual (rings here)" };

/** The numbers the app dials or transfers to, and how each behaves (PUT /sim/phones/<n>). */
export class Destinations {
  constructor() {
    this.phones = {};                   // GET /sim/phones: the scripted ones
    this.seen = new Set();              // numbers the calls dialled or transferred to
    $("dest-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.set($("dest-number").value.trim(), $("dest-behaviour").value,
               Number($("dest-talk").value));
    });
  }

  async load() {
    this.phones = (await api("GET", "sim/phones")).phones;
    this.render();
  }

  /** Remembers every number the calls reached, so that each can be scripted in one click. */
  learn(calls, details) {
    const before = this.seen.size;
    for (const call of calls) if (call.dest) this.seen.add(call.dest);
    for (const call of details) {
      for (const t of call.transfers) if (!t.dest.startsWith("room:")) this.seen.add(t.dest);
    }
    if (this.seen.size !== before) this.render();
  }

  async set(number, behaviour, talkSeconds) {
    try {
      await api("PUT", `sim/phones/${encodeURIComponent(number)}`,
                { behaviour, talk_seconds: talkSeconds });
      await this.load();
    } catch (err) {
      showError(err);
    }
  }

  render() {
    const numbers = [...new Set([...Object.keys(this.phones), ...this.seen])].sort();
    const rows = numbers.map((number) => ({ number, ...(this.phones[number] ||
                                            { behaviour: "answer", talk_seconds: 30 }) }));
    syncList($("dest-list"), rows, (row) => row.number, (row) => this.row(row));
    $("dest-list").closest("table").hidden = rows.length === 0;
  }

  row({ number, behaviour, talk_seconds: talk }) {
    const select = el("select", { "aria-label": `Behaviour of ${number}`,
                                  onchange: (e) => this.set(number, e.target.value, talk) },
      BEHAVIOURS.map((b) => el("option", { value: b, selected: b === behaviour }, LABELS[b] || b)));
    return el("tr", {}, el("th", { scope: "row" }, number),
      el("td", {}, select, behaviour === "answer" ? ` talks ${talk} s` : ""));
  }
}

/** [field, label, unit]: the faults of PUT /sim/faults and PUT /sim/calls/<s>/faults. */
const FAULTS = [
  ["duplicate", "Duplicate notifications", "rate"],
  ["reorder", "Reorder notifications", "rate"],
  ["delay", "Delay notifications", "s"],
  ["drop_notification", "Drop notifications", "rate"],
  ["rest_error", "REST errors", "rate"],
  ["rest_stall", "REST stalls", "rate"],
  ["stall_seconds", "REST stall length", "s"],
  ["rest_drop", "REST drops", "rate"],
  ["rest_latency", "REST latency", "s"],
];

/**
 * Fault injection, shown only when the simulator answers GET /sim/faults: the faults of
 * every call, and (in the inspector) those of the call on screen.
 */
export class Faults {
  constructor() {
    this.fields = [];                   // the FAULTS this simulator knows
    this.session = null;
    this.probed = false;                // the simulator answered the probe
  }

  /** Asks once the simulator answers (it may be down when the page loads). */
  async probe() {
    if (this.probed) return;
    const response = await fetch("sim/faults").catch(() => null);
    if (!response) return;
    this.probed = true;
    if (response.status !== 200) return;
    const current = await response.json();
    const known = FAULTS.filter(([name]) => name in current);
    this.fields = known.length ? known : FAULTS;
    build($("faults-form"), this.fields, "all", "sim/faults", "Clear all",
          () => this.reloadCall());
    fill($("faults-form"), this.fields, current);
    $("faults").hidden = false;
    $("call-faults").addEventListener("toggle", () => this.reloadCall());
  }

  /** The inspector's form, for the call on screen. */
  showCall(call) {
    const enabled = this.fields.length > 0;
    $("call-faults").hidden = !enabled || call.state === "ended";
    if (!enabled || call.session === this.session) return;
    this.session = call.session;
    build($("call-faults-form"), this.fields, "call", this.callPath(), "Clear this call's",
          () => {});
    this.reloadCall();
  }

  callPath() {
    return `sim/calls/${encodeURIComponent(this.session)}/faults`;
  }

  /** Fills the call's form with the faults in force there (its own over the global ones). */
  async reloadCall() {
    if (!this.session || !$("call-faults").open) return;
    const session = this.session;
    const current = await api("GET", this.callPath()).catch(() => null);
    if (current && session === this.session) fill($("call-faults-form"), this.fields, current);
  }
}

/**
 * A form of ``faults`` for ``path``: *Apply* PUTs every field, the clear button DELETEs
 * (every fault, or the call's own ones), then the form shows the faults in force.
 */
function build(form, faults, prefix, path, clearLabel, changed) {
  const inputs = faults.map(([name, label, unit]) => {
    const id = `${prefix}-${name}`;
    return el("div", { class: "fault" },
      el("label", { for: id }, label,
         el("span", { class: "unit" }, unit === "s" ? " (s)" : " (0–1)")),
      el("input", { id, name, type: "number", min: "0", step: "any", value: "0",
                    inputmode: "decimal" }));
  });
  const result = el("output", { class: "hint", role: "status" });
  const change = async (method, values, done) => {
    try {
      await api(method, path, values);
      fill(form, faults, await api("GET", path));
      result.textContent = done;
      changed();
    } catch (err) {
      showError(err);
    }
  };
  form.onsubmit = (event) => {
    event.preventDefault();
    const values = faults.map(([name]) => [name, Number(form.elements[name].value)]);
    change("PUT", Object.fromEntries(values), "Applied.");
  };
  form.replaceChildren(...inputs, el("div", { class: "buttons" },
    el("button", { type: "submit" }, "Apply"),
    el("button", { type: "button", onclick: () => change("DELETE", undefined, "Cleared.") },
       clearLabel),
    result));
}

function fill(form, faults, values) {
  for (const [name] of faults) {
    const value = Number(values?.[name]);
    form.elements[name].value = Number.isFinite(value) ? String(value) : "0";
  }
}

// The inspector: every call (live and ended) and, for the chosen one, everything that
// happened on it: notifications sent, requests received, prompts, keys, recordings, billing.

import { $, el, fieldTable, fillTerms, syncList } from "./dom.js";

const seconds = (at) => (at === null || at === undefined ? null : `${at.toFixed(3)} s`);

export class Inspector {
  constructor({ refresh, faults, onChoose }) {
    this.refresh = refresh;
    this.faults = faults;
    this.onChoose = onChoose;           // told of each call the developer clicks
    this.chosen = null;                 // the call the developer clicked (or just placed)
    this.shown = null;                  // the call whose detail is on screen
  }

  /** Shows ``session`` next (a call the softphone just placed). */
  follow(session) {
    this.chosen = session;
  }

  /** The call to fetch in detail: the chosen one, else the newest. */
  session(calls) {
    return this.chosen ?? calls.at(-1)?.session ?? null;
  }

  /** Forgets a chosen call the simulator no longer knows (it restarted). */
  forget(known) {
    if (this.chosen && !known.has(this.chosen)) this.chosen = null;
  }

  show(calls, details) {
    const selected = this.session(calls);
    $("no-calls").hidden = calls.length > 0;
    // A call fetched in detail was read after the list: its state is the newer one.
    const items = [...calls].reverse().map((c) => ({
      ...c, state: details.get(c.session)?.state ?? c.state,
      ringing_phone: details.get(c.session)?.ringing_phone ?? c.ringing_phone,
      selected: c.session === selected }));
    syncList($("calls"), items, (c) => c.session, (c) => this.listItem(c));
    this.showDetail(details.get(selected) || null);
  }

  choose(call) {
    this.chosen = call.session;
    this.onChoose(call);
    this.refresh();
  }

  listItem(call) {
    const who = call.direction === "inbound" ? `${call.from} → ${call.to}` : `dial ${call.dest}`;
    return el("li", {},
      el("button", { type: "button", class: "call-item", "data-state": call.state,
                     "aria-current": call.selected ? "true" : null,
                     onclick: () => this.choose(call) },
        el("span", { class: "sid" }, call.session), " ",
        el("span", { class: "who" }, who), " ",
        el("span", { class: "state" }, call.state.replace("_", " "))));
  }

  showDetail(call) {
    const detail = $("detail");
    detail.hidden = !call;
    if (!call) return;
    if (call.session !== this.shown) {
      this.shown = call.session;
      for (const id of ["timeline", "recordings"]) $(id).replaceChildren();
    }
    $("detail-title").textContent = `Call ${call.session} (${call.direction})`;
    fillTerms($("summary"), [
      ["State", call.state.replace("_", " ")], ["Block", call.block],
      ["From", call.from], ["To", call.to], ["Dialled", call.dest],
      ["txn_ref", call.txn_ref], ["app_id", call.app_id], ["Started", call.date],
      ["Answered at", seconds(call.answered_at)], ["Ended at", seconds(call.ended_at)],
      ["End reason", call.end_reason],
      ["Transfers", call.transfers.map((t) => `${t.room ? `room:${t.room}` : t.dest} ` +
                                              `(${t.status || "ringing"})`).join(", ")],
    ]);
    this.faults.showCall(call);
    syncList($("recordings"), call.recordings.length ? call.recordings : [{ id: "none" }],
             (r) => r.id, (r) => (r.id === "none" ? el("li", { class: "hint" }, "None yet.")
                                                   : recordingItem(r)));
    const bill = call.billing;
    fillTerms($("billing"), bill
      ? [["Date", bill.date], ["Duration", `${bill.duration} min`],
         ["Rate", `${bill.rate} ${bill.currency}/min`], ["Debit", `${bill.debit} ${bill.currency}`]]
      : [["Status", "billed when the call ends"]]);
    syncList($("timeline"), events(call), (e) => e.key, timelineItem);
  }
}

/** The timeline with the prompts put in, in time order. */
function events(call) {
  const entries = call.timeline.map((e, i) => ({ ...e, key: `t${i}` }));
  const prompts = call.prompt_log.map((p, i) => ({ ...p, type: "prompt", key: `p${i}` }));
  return [...entries, ...prompts].sort((a, b) => a.at - b.at);
}

function recordingItem(rec) {
  const file = rec.file;
  const src = `sim/recordings/${encodeURIComponent(file)}`;   // served by this page's host
  return el("li", {},
    el("div", {}, el("strong", {}, rec.id), ` ${rec.kind}, ${rec.duration} s on the call`,
       rec.uploaded ? " (the caller's uploaded audio)" : ` (${rec.spoken} s of speech)`, " ",
       el("a", { href: src, download: file }, "download")),
    el("audio", { controls: true, preload: "metadata", src, "aria-label": `Recording ${rec.id}` }));
}

/** How the simulator heard the caller's words. */
const HOW = { text: "as typed", grammar: "recognized among the hints",
              dictation: "recognized by dictation" };

const SUMMARIES = {
  ringing: (e) => ["call", "voice_url" in e
    ? `rings; the TwiML number requests ${e.voice_url || "nothing (no Voice URL)"}`
    : `rings; the Hoiio Number notifies ${e.forward_to || "nobody"}`],
  initiated: () => ["call", "leaves the queue: dialling"],
  verb: (e) => ["TwiML", `<${e.verb}>`, [verbDetail(e)]],
  twiml_error: (e) => ["error", `${e.code ? `${e.code}: ` : ""}${e.reason}`],
  twiml_warning: (e) => ["warning", e.warning],
  beep: () => ["call", "beep: recording"],
  recording_empty: (e) => ["call", e.reason],
  dial_ended: (e) => ["call", `dialled ${e.dest}: ${e.status}` +
                      (e.duration ? ` after ${e.duration} s` : "")],
  redirected: (e) => ["call", `redirected${e.url ? ` to ${e.url}` : ""} through the Calls resource`],
  answered: () => ["call", "answered"],
  keys: (e) => ["caller", `presses ${e.digits}`],
  keys_ignored: (e) => ["caller", `keys ${e.digits} ignored: ${e.reason}`],
  speech: (e) => ["caller", e.text ? `says “${e.text}”` : `speaks for ${e.seconds} s`,
                  [e.audio && "uploaded audio", e.text && `${e.seconds} s`]],
  heard: (e) => ["call", `heard “${e.text}”`, [HOW[e.how] || e.how,
                                                  `confidence ${e.confidence}`]],
  speech_ignored: (e) => ["caller", `speech not heard: ${e.reason}`],
  caller_hangup: () => ["caller", "hangs up"],
  answered_by_hand: (e) => ["phone", `${e.number} answers (by hand)`],
  rejected: (e) => ["phone", `${e.number} rejects the call`],
  dest_phone: (e) => ["phone", `${e.number} rings (scripted: ${e.behaviour})`],
  transferred: (e) => ["call", `transferred to ${e.room ? `room:${e.room}` : e.dest}`],
  transfer_failed: (e) => ["call", `transfer to ${e.dest} failed: ${e.status}`],
  ended: (e) => ["call", `ended: ${e.reason}; ${e.duration} min, ${e.debit} ${e.currency}`],
  fault: (e) => ["fault", `${e.detail}${e.endpoint ? ` (${e.endpoint})` : ""}` +
                (e.ivr_block ? ` (${e.ivr_block})` : "")],
  prompt: (e) => ["caller hears", e.music ? "music on hold" : `“${e.text}”`,
                  [e.block, `${e.seconds} s`, e.cut && "cut short", e.looped && "looping"]],
};

function timelineItem(entry) {
  const at = el("span", { class: "at" }, `+${entry.at.toFixed(3)} s`);
  const li = el("li", { class: `event ${entry.type}`, "data-type": entry.type }, at, " ");
  if (entry.type === "notification") li.append(...notification(entry));
  else if (entry.type === "webhook" || entry.type === "callback") li.append(...webhook(entry));
  else if (entry.type === "request") li.append(...request(entry));
  else {
    const summary = SUMMARIES[entry.type];
    const [who, what, notes] = summary ? summary(entry) : [entry.type, otherFields(entry)];
    li.append(el("span", { class: "who" }, who), " ", what);
    if (notes) {
      li.append(" ", el("span", { class: "note" }, `(${notes.filter(Boolean).join(", ")})`));
    }
  }
  return li;
}

function notification(e) {
  const pending = !e.delivered && e.reply_status === null && !e.error;
  const outcome = pending ? el("span", { class: "badge" }, "sending…")
    : el("span", { class: `badge ${e.error || e.reply_status >= 400 ? "bad" : "ok"}` },
         e.error ? `${e.reply_status ?? "no reply"}: ${e.error}` : String(e.reply_status));
  return [
    el("span", { class: "who" }, "→ app"), " notification ",
    el("strong", {}, `${e.call_state} ${e.ivr_block}`), " ", outcome,
    e.latency_ms === null ? "" : ` ${e.latency_ms} ms`,
    el("details", {}, el("summary", {}, "URL and fields"),
       el("p", { class: "url" }, "POST ", el("code", {}, e.url)),
       fieldTable(e.fields, "Fields of the notification")),
  ];
}

/** A TwiML number's request: what it sent, the answer, and the TwiML that came back. */
function webhook(e) {
  const pending = e.latency_ms === null;
  const bad = e.error || e.reply_status >= 400;
  const outcome = pending ? el("span", { class: "badge" }, "sending…")
    : el("span", { class: `badge ${bad ? "bad" : "ok"}` },
         e.error ? `no reply: ${e.error}` : String(e.reply_status));
  const note = e.warning || e.ignored;
  return [
    el("span", { class: "who" }, "→ app"), ` ${e.type === "callback" ? "callback" : "webhook"} `,
    el("strong", {}, `${e.purpose} ${e.fields.CallStatus || ""}`), " ", outcome,
    pending ? "" : ` ${e.latency_ms} ms`, note ? el("span", { class: "note" }, ` (${note})`) : "",
    el("details", {}, el("summary", {}, e.twiml ? "URL, fields and TwiML" : "URL and fields"),
       el("p", { class: "url" }, `${e.method} `, el("code", {}, e.url)),
       fieldTable(e.fields, "Fields of the request"),
       e.twiml ? el("pre", { class: "twiml" }, e.twiml) : ""),
  ];
}

function verbDetail(e) {
  return Object.entries(e).filter(([name, value]) => !["at", "type", "key", "verb"]
    .includes(name) && value !== null && value !== "" && value !== false)
    .map(([name, value]) => `${name}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" ");
}

function request(e) {
  const status = String(e.reply?.status ?? "");
  const ok = status.startsWith("success") || status.startsWith("2");
  const path = e.endpoint === "Calls" ? "/2010-04-01/…/Calls.json" : `/open/${e.endpoint}`;
  return [
    el("span", { class: "who" }, "← app"), " request ",
    el("strong", {}, e.endpoint), " ",
    el("span", { class: `badge ${ok ? "ok" : "bad"}` }, status),
    el("details", {}, el("summary", {}, "Parameters and reply"),
       el("p", { class: "url" }, `${e.method} ${path}`),
       fieldTable(e.params, "Parameters of the request"),
       el("p", {}, "Reply:"), fieldTable(e.reply, "Reply to the request")),
  ];
}

function otherFields(entry) {
  return Object.entries(entry).filter(([name]) => !["at", "type", "key"].includes(name))
    .map(([name, value]) => `${name}=${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" ");
}

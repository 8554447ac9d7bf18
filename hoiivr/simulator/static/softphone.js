// The softphone: the browser is a phone. It calls a number (a Hoiio Number or a TwiML
// number: the page is the same for both), or rings when the app
// dials a number set to "manual" and answers it; then it presses keys, speaks into a Record
// (microphone or simulated speech), says words to a Gather that listens for speech (typed,
// or the microphone's audio, which the simulator recognizes), hangs up, and shows (and
// says aloud) every prompt.
// The call it drives is kept in sessionStorage, so a reload goes on driving it.

import { $, api, el, showError, syncList } from "./dom.js";
import { KeyQueue } from "./keys.js";
import { Voice } from "./voice.js";
import { Microphone, toWav } from "./wav.js";

const KEYS = "0123456789*#";
const STORED = "hoiivr.softphone.session";
/** Fields where typing 0-9, * and # means text, not keys. */
const TYPING = "input:not([type=checkbox]):not([type=radio]):not([type=button])" +
               ":not([type=submit]), select, textarea";

/** The notification that went out last, if the app could not take it. */
function undelivered(call) {
  const last = call.timeline.filter((e) => e.type === "notification" || e.type === "webhook")
    .at(-1);
  if (!last || (last.delivered && !(last.reply_status >= 400))) return null;
  if (!last.error && last.reply_status === null) return null;         // still being sent
  return last.error || `HTTP ${last.reply_status}`;
}

/** [stage, sentence]: where the call is, in the words of the person on the page. */
export function progress(call) {
  if (!call) return ["idle", "No call yet."];
  const transfer = call.transfers.at(-1);
  const playing = {
    gather: ["menu", "In the menu: the prompt is playing (keys work already)."],
    record: ["recording", "The app will record you: wait for the end of the prompt."],
    transfer: ["transferring", "The app is transferring you…"],
    hangup: ["ending", "The app is saying goodbye…"],
    dial: ["transferring", "The app is connecting you…"],      // a TwiML <Dial>
    error: ["ending", "The app failed: the call is ending."],
  };
  const trouble = ["ringing", "waiting"].includes(call.state) ? undelivered(call) : null;
  if (trouble) {
    return ["trouble", `The app cannot be reached (${trouble}): the call ends unless it ` +
            "sends a block in time."];
  }
  switch (call.state) {
    case "queued": return ["ringing", "Queued: the call leaves at the account's pace…"];
    case "ringing": return ["ringing", "Ringing: waiting for the app to answer…"];
    case "dialing": return ["ringing", `Dialling ${call.dest}…`];
    case "playing": return call.block === "gather" && call.twiml?.listening
      ? ["menu", "In the menu: the prompt is playing (keys and words work already)."]
      : playing[call.block] || ["playing", "Playing a message…"];
    case "collecting": return ["menu", (call.twiml?.listening
      ? "In the menu: say your answer, or press keys." : "In the menu: press keys.") +
                               (call.digits ? ` Pressed so far: ${call.digits}` : "")];
    case "hearing": return ["menu", "The app heard you: waiting for its answer…"];
    case "recording": return ["recording", "Recording your message: speak, then press #."];
    case "on_hold": return ["hold", "On hold."];
    case "resuming": return ["hold", "Coming off hold…"];
    case "transferring": return ["transferring", `Transferring to ${transfer?.dest}: ringing…`];
    case "talking": return ["transferred", transfer?.room
      ? `In conference room ${transfer.room}.` : `Transferred: talking to ${transfer?.dest}.`];
    case "waiting": return ["waiting", "Waiting for the app's next step…"];
    case "ended": {
      const bill = call.billing;
      return ["ended", `Call ended: ${call.end_reason}.` +
              (bill ? ` Billed ${bill.duration} min, ${bill.debit} ${bill.currency}.` : "")];
    }
    default: return [call.state, call.state];
  }
}

export class Softphone {
  constructor({ onCall, refresh }) {
    this.onCall = onCall;
    this.refresh = refresh;
    this.session = sessionStorage.getItem(STORED);
    this.call = null;
    this.ringing = null;                // a call ringing a manual phone, from the list
    this.placing = false;               // a Call or an Answer is under way
    this.note = null;                   // what the status says of a call that went away
    this.heard = 0;                     // prompts already said aloud
    this.spoken = null;                 // what the recorder says after Speak
    this.sending = false;               // a microphone recording is being uploaded
    this.micFor = null;                 // what the microphone records: "record" or "say"
    this.voice = new Voice($("voice"));
    this.mic = new Microphone();
    this.keys = new KeyQueue((digits) => api("POST", `${this.path}/press`, { digits }),
                             showError);
    $("dial").addEventListener("submit", (event) => { event.preventDefault(); this.dial(); });
    $("hangup").addEventListener("click", () => this.hangup());
    $("answer").addEventListener("click", () => this.pickUp(true));
    $("reject").addEventListener("click", () => this.pickUp(false));
    $("keypad").addEventListener("click", (event) => {
      const button = event.target.closest("[data-key]");
      if (button) this.press(button.dataset.key);
    });
    document.addEventListener("keydown", (event) => this.typed(event));
    $("mic").addEventListener("click", () => this.toggleMic());
    $("speak").addEventListener("click", () => this.speak());
    $("say-form").addEventListener("submit", (event) => { event.preventDefault(); this.say(); });
    $("say-mic").addEventListener("click", () => this.toggleSayMic());
    if (this.session) this.onCall(this.session);
    this.render();
  }

  get live() {
    return Boolean(this.session) && this.call?.state !== "ended";
  }

  get path() {
    return `sim/calls/${encodeURIComponent(this.session)}`;
  }

  async act(action) {
    try {
      await action();
    } catch (err) {
      showError(err);
    } finally {
      this.refresh();
    }
  }

  async loadNumbers() {
    const { numbers } = await api("GET", "sim/numbers");
    const select = $("to");
    const chosen = select.value;
    const options = numbers.map((n) => el("option", { value: n.number, title: numberTitle(n) },
      n.kind === "twiml" ? `${n.number} (TwiML)` : n.number));
    if (!options.length) options.push(el("option", { value: "" },
      "No number yet (hoiivr simulator --number or --twiml-number)"));
    if (select.options.length !== options.length ||
        [...select.options].some((option, i) => option.value !== options[i].value)) {
      select.replaceChildren(...options);
      if (numbers.some((n) => n.number === chosen)) select.value = chosen;
    }
    this.render();
  }

  /** Drives `session` from now on (a call placed, answered, or taken over). */
  follow(session) {
    this.session = session;
    sessionStorage.setItem(STORED, session);
    this.call = null;
    this.note = null;
    this.heard = 0;
    this.keys.clear();
    this.voice.stop();
    $("heard").replaceChildren();
    this.onCall(session);
    this.render();
  }

  /** Places one call, however many times Call was clicked meanwhile. */
  dial() {
    if (this.placing || this.live || !$("to").value) return;
    this.placing = true;
    this.render();
    return this.act(async () => {
      try {
        const { session } = await api("POST", "sim/calls",
          { from: $("from").value.trim(), to: $("to").value });
        this.follow(session);
      } finally {
        this.placing = false;
        this.render();
      }
      moveFocus($("call"), $("hangup"));
    });
  }

  /** Answers (or rejects) the call ringing here, then drives it. */
  pickUp(answered) {
    const session = this.ringing?.session;
    if (!session || this.placing) return;
    this.placing = true;
    this.render();
    return this.act(async () => {
      try {
        await api("POST", `sim/calls/${encodeURIComponent(session)}/${answered ? "answer" : "reject"}`);
        if (answered) this.follow(session);
      } finally {
        this.placing = false;
        this.render();
      }
      if (answered) moveFocus($("answer"), $("hangup"));
    });
  }

  press(key) {
    if (!this.live) return;
    const button = $("keypad").querySelector(`[data-key="${CSS.escape(key)}"]`);
    button.classList.add("pressed");
    setTimeout(() => button.classList.remove("pressed"), 150);
    return this.keys.press(key).finally(this.refresh);
  }

  hangup() {
    if (!this.live) return;
    this.voice.stop();
    this.mic.cancel();
    this.keys.clear();
    return this.act(async () => {
      await api("POST", `${this.path}/hangup`);
      moveFocus($("hangup"), $("call"));
    });
  }

  /** Typing 0-9, * or # anywhere but in a text field presses the key. */
  typed(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    if (!KEYS.includes(event.key) || event.target.closest?.(TYPING)) return;
    if (!this.live) return;
    event.preventDefault();
    this.press(event.key);
  }

  async toggleMic() {
    if (!this.mic.recording) {
      await this.startMic("record", "use Speak instead");
      return;
    }
    const path = this.path;
    this.sending = true;
    this.renderRecorder();
    const { blob, seconds } = await this.mic.stop();
    await this.act(() => sendRecording(path, blob, seconds));
    this.sending = false;
    this.renderRecorder();
  }

  async startMic(purpose, instead) {
    this.micFor = purpose;
    await this.act(() => this.mic.start().catch((err) => {
      this.micFor = null;
      throw new Error(`the microphone is not available (${err.message}): ${instead}`);
    }));
    this.renderRecorder();
  }

  /** Says the words typed: the Gather hears exactly them. */
  say() {
    const input = $("say-text");
    const text = input.value.trim();
    if (!this.live || !text) return;
    input.value = "";
    return this.act(() => api("POST", `${this.path}/speak`, { text }));
  }

  /** The microphone, for words: its audio is recognized by the simulator. */
  async toggleSayMic() {
    if (!this.mic.recording) {
      await this.startMic("say", "type the words instead");
      return;
    }
    const path = this.path;
    this.sending = true;
    this.renderRecorder();
    const { blob } = await this.mic.stop();
    this.micFor = null;
    await this.act(() => sendWords(path, blob));
    this.sending = false;
    this.renderRecorder();
  }

  speak() {
    const seconds = Number($("speak-seconds").value);
    this.spoken = `Speaking for ${seconds} s: press # when you are done.`;
    return this.act(() => api("POST", `${this.path}/speak`, { seconds }));
  }

  /**
   * Shows the poll's reading: `call`, the call driven here (null: not fetched), and
   * `calls`, every call, for one ringing a manual phone.
   */
  show(call, calls) {
    if (call && call.session === this.session) this.call = call;
    this.ringing = calls.find((c) => c.ringing_phone && c.session !== this.session) || null;
    this.render();
  }

  /** The simulator no longer knows the call (it restarted, or forgot old calls). */
  lost() {
    this.session = null;
    this.call = null;
    sessionStorage.removeItem(STORED);
    this.keys.clear();
    this.voice.stop();
    this.note = "The call is gone: the simulator restarted or no longer keeps it.";
    this.render();
  }

  render() {
    const [stage, sentence] = this.session && !this.call ? ["ringing", "Connecting…"]
      : !this.session && this.note ? ["ended", this.note] : progress(this.call);
    const ringing = !this.live && this.ringing;
    const status = $("status");
    status.dataset.stage = ringing ? "incoming" : stage;
    setText(status, ringing ? `Incoming call to ${ringing.ringing_phone}: answer or reject.`
      : sentence);
    const id = $("call-id");
    id.hidden = !this.session;
    setText(id, this.session ? `Call ${this.session}` : "");
    $("incoming").hidden = !ringing;
    if (ringing) {
      setText($("incoming-text"), `${ringing.ringing_phone} is ringing` +
              (ringing.direction === "outbound" ? ": the app is calling it." : "."));
    }
    $("phone").dataset.live = String(this.live);
    setDisabled($("call"), this.live || this.placing || !$("to").value);
    setDisabled($("hangup"), !this.live);
    for (const key of $("keypad").querySelectorAll("button")) key.disabled = !this.live;
    if (this.call) this.renderPrompts(this.call.prompt_log);
    this.renderRecorder();
  }

  renderPrompts(prompts) {
    const list = $("heard");
    syncList(list, prompts.map((p, i) => ({ ...p, i })), (p) => p.i, heardItem);
    const last = prompts.at(-1);
    if (prompts.length > this.heard) {
      this.heard = prompts.length;
      list.scrollTop = list.scrollHeight;  // the newest in view where the list scrolls
      // Announced once, when it starts: not again when a key cuts it short.
      setText($("announce"), last.music ? "Music on hold." : last.text);
      if (last.cut) this.voice.stop(); else this.voice.say(last);
    } else if (last?.cut) {
      this.voice.stop();               // a key cut the prompt short
    }
  }

  renderRecorder() {
    const state = this.live && this.call?.block === "record" ? this.call.state : null;
    const inRecord = state === "playing" || state === "recording";
    const listening = this.renderListener();
    if (!inRecord) this.spoken = null;
    if (this.mic.recording && !(this.micFor === "say" ? listening : inRecord)) {
      this.mic.cancel();
      showError(this.micFor === "say"
        ? "The app stopped listening before you stopped the microphone: nothing was sent."
        : "The recording ended before you stopped the microphone: nothing was sent.");
      this.micFor = null;
    }
    $("recorder").hidden = !inRecord;
    setText($("recorder-hint"), state !== "recording" ? "The app will record you after its prompt."
      : this.spoken || "The app is recording you: use the microphone, or speak without one.");
    const mic = $("mic");
    const recording = this.mic.recording;
    const label = recording ? "Stop and send" : "Record from microphone";
    setText(mic, this.sending ? "Sending…" : label);
    mic.setAttribute("aria-pressed", String(recording));
    mic.disabled = this.sending || !this.mic.available || state !== "recording" ||
      this.micFor === "say";
    $("speak").disabled = this.sending || recording || state !== "recording";
  }

  /** The words box and the microphone, while a Gather listens for speech; true then. */
  renderListener() {
    const call = this.live ? this.call : null;
    const listening = Boolean(call?.twiml?.listening) &&
      ["playing", "collecting"].includes(call.state);
    $("listener").hidden = !(listening || call?.state === "hearing");
    const said = call ? lastWords(call.timeline) : null;
    setText($("said"), said ? `Heard “${said.text}” (${HOW[said.how] || said.how}, ` +
            `confidence ${said.confidence}).` : "");
    const mic = $("say-mic");
    const recording = this.mic.recording && this.micFor === "say";
    setText(mic, this.sending && this.micFor === "say" ? "Sending…"
      : recording ? "Stop and send" : "Speak into the microphone");
    mic.setAttribute("aria-pressed", String(recording));
    mic.disabled = this.sending || !this.mic.available || !listening ||
      (this.mic.recording && this.micFor !== "say");
    $("say").disabled = !listening || this.sending;
    return listening;
  }
}

function numberTitle(n) {
  if (n.kind === "twiml") return n.voice_url ? `requests ${n.voice_url}` : "no Voice URL yet";
  return n.forward_to ? `notifies ${n.forward_to}` : "no forward_to yet";
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Call and Hang up stay focusable while unavailable, so a keyboard user keeps their place. */
function setDisabled(button, disabled) {
  button.setAttribute("aria-disabled", String(disabled));
}

/** Moves the focus on from a button that has done its job, to the one that is next. */
function moveFocus(from, to) {
  if (document.activeElement === from || document.activeElement === document.body) to.focus();
}

function heardItem(prompt) {
  const notes = [prompt.cut && "cut short", prompt.looped && "looping", prompt.music &&
                 "hold music", prompt.attempt > 1 && `attempt ${prompt.attempt}`].filter(Boolean);
  return el("li", { class: prompt.cut ? "cut" : null },
    el("span", { class: "block" }, prompt.block),
    " ", prompt.music ? "♪ music on hold" : prompt.text,
    notes.length ? el("span", { class: "note" }, ` (${notes.join(", ")})`) : null);
}

/** How the simulator heard the caller's words. */
const HOW = { text: "as typed", grammar: "recognized among the hints",
              dictation: "recognized by dictation" };

/** The caller's last words the simulator heard, from the timeline (null: none). */
function lastWords(timeline) {
  return timeline.filter((e) => e.type === "speech" && e.text).at(-1) || null;
}

/** Uploads the microphone's words, as WAV: the simulator recognizes them offline. */
async function sendWords(path, blob) {
  const form = new FormData();
  form.append("audio", await toWav(blob), "words.wav");
  await api("POST", `${path}/speak`, form);
}

/** Uploads the microphone's recording as the caller's speech, then presses # to end it. */
async function sendRecording(path, blob, seconds) {
  const form = new FormData();
  let file = blob;
  let name = "message.webm";
  try {
    file = await toWav(blob);
    name = "message.wav";
  } catch {
    // A format this browser cannot decode is sent as recorded.
  }
  form.append("seconds", Math.min(3600, Math.max(0.1, seconds)).toFixed(2));
  form.append("audio", file, name);
  await api("POST", `${path}/speak`, form);
  await api("POST", `${path}/press`, { digits: "#" });
}

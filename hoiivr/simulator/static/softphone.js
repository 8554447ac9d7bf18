// The softphone: the browser is the caller. It places a call to a Hoiio Number, presses
// keys, speaks into a Record (microphone or simulated speech), hangs up, and shows (and
// says aloud) every prompt as the simulator plays it.

import { $, api, el, showError, syncList } from "./dom.js";
import { Microphone, toWav } from "./wav.js";

const KEYS = "0123456789*#";

/** [stage, sentence]: where the call is, in the caller's words. */
export function progress(call) {
  if (!call) return ["idle", "No call yet."];
  const transfer = call.transfers.at(-1);
  const playing = {
    gather: ["menu", "In the menu: the prompt is playing (keys work already)."],
    record: ["recording", "The app will record you: wait for the end of the prompt."],
    transfer: ["transferring", "The app is transferring you…"],
    hangup: ["ending", "The app is saying goodbye…"],
  };
  switch (call.state) {
    case "ringing": return ["ringing", "Ringing: waiting for the app to answer…"];
    case "dialing": return ["ringing", `Dialling ${call.dest}…`];
    case "playing": return playing[call.block] || ["playing", "Playing a message…"];
    case "collecting": return ["menu", "In the menu: press keys." +
                               (call.digits ? ` Pressed so far: ${call.digits}` : "")];
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

/** Says prompts aloud with the browser's speech synthesis (and plays their audio files). */
class Voice {
  constructor(toggle) {
    this.toggle = toggle;
    this.generation = 0;
    toggle.addEventListener("change", () => { if (!toggle.checked) this.stop(); });
  }

  async say(prompt) {
    this.stop();
    if (!this.toggle.checked) return;
    const generation = this.generation;
    for (const part of prompt.segments) {
      if (generation !== this.generation) return;
      await (part.audio ? this.play(part.audio) : this.speak(part.text, part.language));
    }
  }

  speak(text, language) {
    return new Promise((resolve) => {
      if (!window.speechSynthesis) return resolve();
      const utterance = new SpeechSynthesisUtterance(text);
      if (language) utterance.lang = language;
      utterance.onend = utterance.onerror = resolve;
      speechSynthesis.speak(utterance);
    });
  }

  play(url) {
    return new Promise((resolve) => {
      this.audio = new Audio(url);
      this.audio.onended = this.audio.onerror = resolve;
      this.audio.play().catch(resolve);
    });
  }

  stop() {
    this.generation++;
    window.speechSynthesis?.cancel();
    this.audio?.pause();
    this.audio = null;
  }
}

export class Softphone {
  constructor({ onCall, refresh }) {
    this.onCall = onCall;
    this.refresh = refresh;
    this.session = null;
    this.call = null;
    this.heard = 0;                     // prompts already said aloud
    this.note = null;                   // what the recorder says after Speak
    this.sending = false;               // a microphone recording is being uploaded
    this.voice = new Voice($("voice"));
    this.mic = new Microphone();
    $("dial").addEventListener("submit", (event) => { event.preventDefault(); this.dial(); });
    $("hangup").addEventListener("click", () => this.hangup());
    $("keypad").addEventListener("click", (event) => {
      const button = event.target.closest("[data-key]");
      if (button) this.press(button.dataset.key);
    });
    document.addEventListener("keydown", (event) => this.typed(event));
    $("mic").addEventListener("click", () => this.toggleMic());
    $("speak").addEventListener("click", () => this.speak());
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
    const options = numbers.map((n) => el("option", { value: n.number,
      title: n.forward_to ? `notifies ${n.forward_to}` : "no forward_to yet" }, n.number));
    if (!options.length) options.push(el("option", { value: "" },
      "No Hoiio Number yet (hoiivr simulator --number)"));
    if (select.options.length !== options.length ||
        [...select.options].some((option, i) => option.value !== options[i].value)) {
      select.replaceChildren(...options);
      if (numbers.some((n) => n.number === chosen)) select.value = chosen;
    }
    this.render();
  }

  dial() {
    return this.act(async () => {
      this.voice.stop();
      const { session } = await api("POST", "sim/calls",
        { from: $("from").value.trim(), to: $("to").value });
      this.session = session;
      this.call = null;
      this.heard = 0;
      $("heard").replaceChildren();
      this.onCall(session);
      this.render();
    });
  }

  press(key) {
    if (!this.live) return;
    const button = $("keypad").querySelector(`[data-key="${key}"]`);
    button.classList.add("pressed");
    setTimeout(() => button.classList.remove("pressed"), 150);
    return this.act(() => api("POST", `${this.path}/press`, { digits: key }));
  }

  hangup() {
    this.voice.stop();
    this.mic.cancel();
    return this.act(() => api("POST", `${this.path}/hangup`));
  }

  /** Typing 0-9, * or # anywhere but in a form field presses the key. */
  typed(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) return;
    if (!KEYS.includes(event.key) || event.target.closest("input, select, textarea")) return;
    if (!this.live) return;
    event.preventDefault();
    this.press(event.key);
  }

  async toggleMic() {
    if (!this.mic.recording) {
      await this.act(() => this.mic.start().catch((err) => {
        throw new Error(`the microphone is not available (${err.message}): use Speak instead`);
      }));
      this.renderRecorder();
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

  speak() {
    const seconds = Number($("speak-seconds").value);
    this.note = `Speaking for ${seconds} s: press # when you are done.`;
    return this.act(() => api("POST", `${this.path}/speak`, { seconds }));
  }

  /** Shows the call as of the last poll (null: no call, or not fetched yet). */
  show(call) {
    if (call && call.session === this.session) this.call = call;
    this.render();
  }

  render() {
    const [stage, sentence] = progress(this.call);
    const status = $("status");
    status.dataset.stage = this.session && !this.call ? "ringing" : stage;
    const text = this.session && !this.call ? "Calling…" : sentence;
    setText(status, this.session ? `${this.session}: ${text}` : text);
    const hasNumber = Boolean($("to").value);
    $("call").disabled = this.live || !hasNumber;
    $("hangup").disabled = !this.live;
    for (const key of $("keypad").querySelectorAll("button")) key.disabled = !this.live;
    if (this.call) this.renderPrompts(this.call.prompt_log);
    this.renderRecorder();
  }

  renderPrompts(prompts) {
    syncList($("heard"), prompts.map((p, i) => ({ ...p, i })), (p) => p.i, heardItem);
    const last = prompts.at(-1);
    if (prompts.length > this.heard) {
      this.heard = prompts.length;
      if (last.cut) this.voice.stop(); else this.voice.say(last);
    } else if (last?.cut) {
      this.voice.stop();               // a key cut the prompt short
    }
  }

  renderRecorder() {
    const state = this.live && this.call?.block === "record" ? this.call.state : null;
    const inRecord = state === "playing" || state === "recording";
    if (!inRecord) {
      this.note = null;
      if (this.mic.recording) {
        this.mic.cancel();
        showError("The recording ended before you stopped the microphone: nothing was sent.");
      }
    }
    $("recorder").hidden = !inRecord;
    setText($("recorder-hint"), state !== "recording" ? "The app will record you after its prompt."
      : this.note || "The app is recording you: use the microphone, or speak without one.");
    const mic = $("mic");
    const recording = this.mic.recording;
    const label = recording ? "Stop and send" : "Record from microphone";
    setText(mic, this.sending ? "Sending…" : label);
    mic.setAttribute("aria-pressed", String(recording));
    mic.disabled = this.sending || !this.mic.available || state !== "recording";
    $("speak").disabled = this.sending || recording || state !== "recording";
  }
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function heardItem(prompt) {
  const notes = [prompt.cut && "cut short", prompt.looped && "looping", prompt.music &&
                 "hold music", prompt.attempt > 1 && `attempt ${prompt.attempt}`].filter(Boolean);
  return el("li", { class: prompt.cut ? "cut" : null },
    el("span", { class: "block" }, prompt.block),
    " ", prompt.music ? "♪ music on hold" : prompt.text,
    notes.length ? el("span", { class: "note" }, ` (${notes.join(", ")})`) : null);
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

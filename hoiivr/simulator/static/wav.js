// The caller's microphone, recorded with MediaRecorder and turned into the WAV file a phone
// line would carry (8 kHz, 16-bit, mono): the simulator keeps an uploaded WAV exactly as
// the recording, and knows its length.

export const RATE = 8000;

export class Microphone {
  get available() {
    return Boolean(navigator.mediaDevices?.getUserMedia && window.MediaRecorder);
  }

  get recording() {
    return this.recorder?.state === "recording";
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.chunks = [];
    this.recorder = new MediaRecorder(this.stream);
    this.recorder.ondataavailable = (event) => this.chunks.push(event.data);
    this.started = performance.now();
    this.recorder.start();
  }

  /** Stops; resolves to {blob, seconds} of what was recorded. */
  stop() {
    return new Promise((resolve) => {
      const recorder = this.recorder;
      recorder.onstop = () => {
        this.release();
        resolve({ blob: new Blob(this.chunks, { type: recorder.mimeType }),
                  seconds: (performance.now() - this.started) / 1000 });
      };
      recorder.stop();
    });
  }

  /** Stops and throws the recording away. */
  cancel() {
    if (this.recording) {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    this.release();
  }

  release() {
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = null;
  }
}

/** The recorded audio (any format the browser decodes) as an 8 kHz mono WAV Blob. */
export async function toWav(blob) {
  const context = new OfflineAudioContext(1, 1, RATE);
  const audio = await context.decodeAudioData(await blob.arrayBuffer()); // resampled to RATE
  const mono = new Float32Array(audio.length);
  for (let channel = 0; channel < audio.numberOfChannels; channel++) {
    audio.getChannelData(channel).forEach((v, i) => { mono[i] += v / audio.numberOfChannels; });
  }
  const pcm = Int16Array.from(mono, (v) => Math.round(Math.max(-1, Math.min(1, v)) * 0x7fff));
  return new Blob([wavHeader(pcm.length), pcm], { type: "audio/wav" });
}

function wavHeader(frames) {
  const view = new DataView(new ArrayBuffer(44));
  const text = (at, s) => [...s].forEach((c, i) => view.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + frames * 2, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true);             // size of the fmt chunk
  view.setUint16(20, 1, true);              // PCM
  view.setUint16(22, 1, true);              // mono
  view.setUint32(24, RATE, true);
  view.setUint32(28, RATE * 2, true);       // bytes per second
  view.setUint16(32, 2, true);              // bytes per frame
  view.setUint16(34, 16, true);             // bits per sample
  text(36, "data");
  view.setUint32(40, frames * 2, true);
  return view.buffer;
}

// Says prompts aloud with the browser's speech synthesis, and plays their audio files.

export class Voice {
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

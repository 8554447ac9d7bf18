// The keys a person presses, sent in the order pressed: one request at a time, the keys
// pressed meanwhile sent together in the next (a phone never reorders keys).

export class KeyQueue {
  /** send(digits) posts the keys; failed(err) is told when it rejects. */
  constructor(send, failed) {
    this.send = send;
    this.failed = failed;
    this.waiting = "";
    this.sending = null;               // the loop sending, while it runs
  }

  /** Queues `key`; resolves when every key queued so far was sent. */
  press(key) {
    this.waiting += key;
    this.sending ??= this.drain().finally(() => { this.sending = null; });
    return this.sending;
  }

  async drain() {
    while (this.waiting) {
      const digits = this.waiting;
      this.waiting = "";
      try {
        await this.send(digits);
      } catch (err) {
        this.waiting = "";             // the keys after a failed one would make no sense
        this.failed(err);
      }
    }
  }

  /** Forgets keys not sent yet (the call ended or changed). */
  clear() {
    this.waiting = "";
  }
}

"""``<Record>``: a beep, then the caller recorded until a ``finishOnKey`` key, ``timeout``
seconds of silence or ``maxLength`` (TWIML.md §3).

The recording is trimmed of silence unless ``trim="do-not-trim"``; one with nothing left
requests no action and the document goes on. Otherwise the action (by default the
document itself) hears ``RecordingUrl``, ``RecordingDuration``, ``RecordingSid`` and the
key in ``Digits``, and ``recordingStatusCallback`` hears the recording is ``completed``.
A caller who hangs up while recorded ends the recording: the action is requested with
``Digits=hangup`` and its answer ignored.
"""
from __future__ import annotations

from .. import calls
from ..calls import Session
from ..media import Recording
from .errors import TwimlError
from .prompts import Prompting
from .state import Hook
from .verbs import Record


class Recorder(Prompting):
    """Runs ``<Record>``."""

    def record(self, s: Session) -> Record:
        verb = self.call(s).verb
        assert isinstance(verb, Record)
        return verb

    def run_record(self, s: Session, verb: Record) -> None:
        now = self.now()
        if verb.play_beep:
            s.log(now, "beep")
        s.upload = None
        s.state, s.record_started = calls.RECORDING, now
        self.after(s, "block", verb.max_length, lambda s: self._recorded(s, None))
        self._silence(s)

    def _silence(self, s: Session) -> None:
        """(Re)start the wait for ``timeout`` seconds of silence after the caller's last
        words."""
        timeout = self.record(s).timeout
        if timeout > 0:
            quiet_from = max(self.now(), s.speaking_until)
            self.after(s, "silence", quiet_from + timeout - self.now(),
                       lambda s: self._recorded(s, None))

    def recording_spoke(self, s: Session) -> None:
        if s.state == calls.RECORDING:
            self._silence(s)

    def record_keys(self, s: Session, keys: str) -> None:
        finish = self.record(s).finish_on_key
        for index, key in enumerate(keys):
            if key in finish:
                if keys[index + 1:]:
                    s.log(self.now(), "keys_ignored", digits=keys[index + 1:],
                          reason="the recording has ended")
                self._recorded(s, key)
                return
        s.log(self.now(), "keys_ignored", digits=keys,
              reason=f"only {finish} end this recording")

    def take(self, s: Session) -> Recording | None:
        """The recording so far, trimmed; None when nothing is left of it."""
        verb, start, end = self.record(s), s.record_started or 0.0, self.now()
        s.record_started = None
        if s.upload is None and verb.trim == "trim-silence":
            spoken = s.speech_between(start, end)
            if not spoken:
                return None
            start, end = start + spoken[0][0], start + spoken[-1][1]
        elif end <= start and s.upload is None:
            return None
        return self.engine._save(s, "record", start, end)

    def _recorded(self, s: Session, key: str | None) -> None:
        self.cancel(s, "block", "silence")
        verb = self.record(s)
        rec = self.take(s)
        if rec is None:
            said = "nothing was said (trim-silence)" if verb.trim == "trim-silence" else \
                "the recording is empty"
            s.log(self.now(), "recording_empty", reason=f"{said}: no action, the next verb runs")
            self.next_verb(s)
            return
        self.recording_callback(s, verb, rec)
        hook = self.action(s, verb.action, verb.method)
        if hook is None:
            self.next_verb(s)
            return
        params = [("RecordingUrl", rec.url), ("RecordingDuration", str(round(rec.duration))),
                  ("RecordingSid", rec.id)]
        self.fetch(s, "action", hook, params + ([("Digits", key)] if key else []))

    def recording_callback(self, s: Session, verb: Record, rec: Recording) -> None:
        if verb.status_callback is None:
            return
        try:
            url = self.resolve(s, verb.status_callback)
        except TwimlError as exc:              # a bad callback URL only loses the callback
            s.log(self.now(), "twiml_warning", warning=f"recordingStatusCallback: {exc}")
            return
        self.callback(s, Hook(url, verb.status_callback_method), "recording_status_callback",
                      [("AccountSid", self.call(s).account_sid), ("CallSid", s.id),
                       ("RecordingSid", rec.id), ("RecordingUrl", rec.url),
                       ("RecordingStatus", "completed"),
                       ("RecordingDuration", str(round(rec.duration))),
                       ("RecordingChannels", "1"), ("RecordingSource", "RecordVerb")])

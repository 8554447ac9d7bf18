"""How each block plays out over time, as timers on the engine's clock.

Every step of a block is a timer: a prompt ends, a gather times out, a phone answers. Each
runs under the engine's lock and may queue notifications; none delivers one. A block's
completion is therefore always a later event than the request that started it, even when
it takes no time at all.

:class:`BlockFlow` is mixed into :class:`~hoiivr.simulator.engine.Engine`, which provides
the timers, notifications and the end of the call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import calls
from .accounts import Phone
from .calls import Session, Step
from .media import Upload
from .speech import Heard
from .timing import Prompt

if TYPE_CHECKING:
    from .accounts import Directory
    from .clock import Clock
    from .media import Recording
    from .timing import Timing

Then = Callable[[Session], None]


class BlockFlow:
    """The blocks' behaviour. Every method runs with the engine's lock held."""

    clock: Clock
    timing: Timing
    directory: Directory
    rooms: dict[str, set[str]]

    if TYPE_CHECKING:  # provided by the engine
        def _after(self, s: Session, name: str, delay: float, action: Then) -> None: ...
        def _cancel(self, s: Session, name: str) -> None: ...
        def _block_done(self, s: Session, **fields: str) -> None: ...
        def _save(self, s: Session, kind: str, start: float, end: float) -> Recording: ...
        def _end(self, s: Session, reason: str, target: Any = ...,
                 fields: Any = None) -> None: ...

    # -- starting a block ---------------------------------------------------------------

    def _start(self, s: Session, step: Step, interrupting: bool) -> None:
        """Run an accepted block; ``interrupting``: another block was still running."""
        self._cancel(s, "wait")
        if step.kind == "hangup":
            self._run_hangup(s, step, interrupting)
            return
        if s.inbound and s.answered_at is None:
            self._answer(s)                 # any Middle block or a Transfer answers
        s.step = step
        if step.notify_url and step.kind != "hold":
            # Hold notifies nothing: its notify_url is taken and never used, so the end goes
            # where it would have, with an ivr_block of the protocol's list.
            s.reply_to = step
        getattr(self, "_run_" + step.kind)(s, step)

    def _answer(self, s: Session) -> None:
        s.answered_at = self.clock.now()
        s.log(s.answered_at, "answered")

    def _prompt(self, s: Session, step: Step, then: Then) -> None:
        """Play the block's ``msg``, then ``then(s)``."""
        prompt = Prompt.of(getattr(step.block, "msg", None), self.timing)
        now = self.clock.now()
        if prompt.segments:
            s.heard(now, prompt)
        s.state = calls.PLAYING
        s.prompt_until = now + prompt.seconds
        self._after(s, "block", prompt.seconds, then)

    def _cut_prompt(self, s: Session) -> None:
        if s.state == calls.PLAYING and s.prompts and self.clock.now() < s.prompt_until:
            s.prompts[-1]["cut"] = True

    # -- the blocks -------------------------------------------------------------------------

    def _run_play(self, s: Session, step: Step) -> None:
        self._prompt(s, step, self._block_done)

    def _run_gather(self, s: Session, step: Step) -> None:
        s.digits, s.keyed, s.attempt = "", False, 1
        self._prompt(s, step, self._listen)

    def _listen(self, s: Session) -> None:
        s.state = calls.COLLECTING
        self._after(s, "block", s.step.block.timeout or 15, self._gather_timeout)  # type: ignore

    def _gather_timeout(self, s: Session) -> None:
        # With no key at all the prompt is replayed, up to ``attempts`` times in all.
        if not s.keyed and s.attempt < (s.step.block.attempts or 1):  # type: ignore
            s.attempt += 1
            self._prompt(s, s.step, self._listen)  # type: ignore[arg-type]
            return
        self._block_done(s, digits=s.digits)

    def _run_record(self, s: Session, step: Step) -> None:
        s.upload = None
        self._prompt(s, step, self._record)

    def _record(self, s: Session) -> None:
        s.state = calls.RECORDING
        s.record_started = self.clock.now()
        self._after(s, "block", s.step.block.max_duration or 120, self._record_done)  # type: ignore

    def _record_done(self, s: Session) -> None:
        rec = self._save(s, "record", s.record_started or 0.0, self.clock.now())
        s.record_started = None
        self._block_done(s, record_url=rec.url)

    def _run_monitor(self, s: Session, step: Step) -> None:
        self._prompt(s, step, self._monitor_on)

    def _monitor_on(self, s: Session) -> None:
        s.monitor, s.monitor_started = s.step, self.clock.now()
        self._block_done(s)

    def _run_hold(self, s: Session, step: Step) -> None:
        prompt = Prompt.of(step.block.msg, self.timing)  # type: ignore[attr-defined]
        if prompt.segments:
            s.heard(self.clock.now(), prompt, looped=True)
        else:
            s.heard(self.clock.now(), Prompt("", 0.0), music=True)
        s.state = calls.ON_HOLD             # no timer: the wait is paused until Unhold

    def _run_unhold(self, s: Session, step: Step) -> None:
        s.state = calls.RESUMING
        self._after(s, "block", 0.0, self._block_done)

    def _run_transfer(self, s: Session, step: Step) -> None:
        transfer = s.transfer
        assert transfer is not None
        s.closed = transfer.on_failure != "continue"
        self._prompt(s, step, self._connect)

    def _connect(self, s: Session) -> None:
        transfer = s.transfer
        assert transfer is not None
        if transfer.room is not None:
            self.rooms.setdefault(transfer.room, set()).add(s.id)
            self._transferred(s, None)      # in a room until the caller hangs up
            return
        phone = self.ring_phone(s, transfer.dest)
        s.state = calls.TRANSFERRING
        s.ringing_phone = transfer.dest if phone.manual else None
        self._after(s, "block", self.timing.ring_seconds(phone.behaviour),
                    lambda s: self._transfer_outcome(s, phone.rang_out()))

    def ring_phone(self, s: Session, number: str) -> Phone:
        """The phone ``number`` as it is scripted now, logged: a trace replays it so."""
        phone = self.directory.phone(number)
        s.log(self.clock.now(), "dest_phone", number=number, **phone.to_json())
        return phone

    def _transfer_outcome(self, s: Session, phone: Phone) -> None:
        transfer = s.transfer
        assert transfer is not None and s.step is not None
        s.ringing_phone = None
        if phone.behaviour == "answer":
            self._transferred(s, phone.talk_seconds)
            return
        transfer.status = phone.behaviour
        s.log(self.clock.now(), "transfer_failed", dest=transfer.dest, status=transfer.status)
        if transfer.on_failure == "continue":
            s.closed = False                # the one End block that may be followed
            self._block_done(s, transfer_status=transfer.status)
        else:
            self._end(s, f"the transfer failed ({transfer.status})", s.step.target,
                      {"transfer_status": transfer.status})

    def _transferred(self, s: Session, talk_seconds: float | None) -> None:
        transfer = s.transfer
        assert transfer is not None
        transfer.status = "answered"
        s.closed = True
        s.state = calls.TALKING
        s.log(self.clock.now(), "transferred", dest=transfer.dest, room=transfer.room)
        if talk_seconds is not None:
            self._after(s, "block", talk_seconds,
                        lambda s: self._end(s, "the transferred party hung up"))

    def _run_hangup(self, s: Session, step: Step, interrupting: bool) -> None:
        s.closed = True
        s.step = step
        # Mid-block, on hold, or still ringing: hang up at once; the msg is not played.
        if step.block.force or interrupting or s.answered_at is None:  # type: ignore
            self._cut_prompt(s)
            self._end(s, "the app hung up", step.target)
            return
        self._prompt(s, step, lambda s: self._end(s, "the app hung up", step.target))

    def _run_dial(self, s: Session, step: Step) -> None:
        s.step = step
        s.reply_to = step if step.notify_url else None
        s.state = calls.DIALING
        phone = self.ring_phone(s, s.dest or "")
        s.ringing_phone = s.dest if phone.manual else None
        self._after(s, "block", self.timing.ring_seconds(phone.behaviour),
                    lambda s: self._dial_outcome(s, phone.rang_out()))

    def _dial_outcome(self, s: Session, phone: Phone) -> None:
        step = s.step
        assert step is not None
        s.ringing_phone = None
        if phone.behaviour != "answer":
            s.dial_status = phone.behaviour
            self._end(s, f"the dialled phone was {phone.behaviour}", step.target,
                      {"dial_status": phone.behaviour})
            return
        s.dial_status = "answered"
        self._answer(s)
        if step.block.max_duration:  # type: ignore[attr-defined]
            self._after(s, "max_duration", step.block.max_duration,  # type: ignore
                        lambda s: self._end(s, "max_duration reached"))
        self._prompt(s, step, lambda s: self._block_done(s, dial_status="answered"))

    def _pick_up(self, s: Session, answered: bool) -> None:
        """The person at the manual phone ringing on ``s`` answers it or rejects it."""
        number = s.ringing_phone
        assert number is not None
        self._cancel(s, "block")            # the ring-out timer
        s.log(self.clock.now(), "answered_by_hand" if answered else "rejected", number=number)
        phone = self.directory.phone(number).picked_up(answered)
        if s.front is not None:
            s.ringing_phone = None
            s.front.picked_up(s, phone)
        elif s.state == calls.DIALING:
            self._dial_outcome(s, phone)
        else:
            self._transfer_outcome(s, phone)

    # -- the caller -------------------------------------------------------------------------

    def _keys(self, s: Session, keys: str) -> None:
        now = self.clock.now()
        s.log(now, "keys", digits=keys)
        if s.front is not None:
            s.front.keys(s, keys)
        elif s.step is not None and s.step.kind == "gather" and s.state in (calls.PLAYING,
                                                                          calls.COLLECTING):
            self._gather_keys(s, keys)
        elif s.state == calls.RECORDING and "#" in keys:
            self._record_done(s)
        else:
            s.log(now, "keys_ignored", digits=keys, reason=f"nothing listens for keys while "
                  f"the call is {s.state}")

    def _gather_keys(self, s: Session, keys: str) -> None:
        max_digits = s.step.block.max_digits or 0  # type: ignore[union-attr]
        for i, key in enumerate(keys):
            s.keyed = True
            if key != "#":
                s.digits += key
            if key == "#" or (max_digits and len(s.digits) >= max_digits):
                if keys[i + 1:]:
                    s.log(self.clock.now(), "keys_ignored", digits=keys[i + 1:],
                          reason="the Gather already had its answer")
                self._cut_prompt(s)
                self._block_done(s, digits=s.digits)
                return
        self._cut_prompt(s)                 # a key stops the prompt ...
        self._listen(s)                     # ... and the timeout restarts from it

    def _speech(self, s: Session, seconds: float, upload: Upload | None,
                heard: Heard | None = None, heard_for: Any = None) -> None:
        now = self.clock.now()
        if upload is not None:
            seconds = upload.seconds() or seconds
            if s.state == calls.RECORDING:
                s.upload = upload
        s.speech.append((now, now + seconds))
        s.speaking_until = max(s.speaking_until, now + seconds)
        words = {} if heard is None else {"text": heard.text, "how": heard.how,
                                          "confidence": round(heard.confidence, 3)}
        s.log(now, "speech", seconds=round(seconds, 3), audio=upload is not None, **words)
        # A timer at the end of the speech, so that settle() lets the caller finish talking.
        self._after(s, "speech", s.speaking_until - now, lambda s: None)
        if s.front is not None:
            s.front.spoke(s, heard, heard_for)

    def _end_target(self, s: Session) -> tuple[calls.Target | None, dict[str, str]]:
        """Where an ``ended`` the app did not ask for goes (the caller hung up, the wait
        ran out, ``max_duration``), with the fields of that block's result."""
        if s.closed and s.step is not None:
            # After an End block, only that block's own notify_url hears of the end.
            transfer = s.transfer if s.step.kind == "transfer" else None
            extra = {"transfer_status": transfer.status} if transfer and transfer.status else {}
            return s.step.target, extra
        if s.reply_to is not None:
            extra = {"dial_status": "answered"} if s.reply_to.kind == "dial" else {}
            return s.reply_to.target, extra
        entry = self.directory.numbers.get(s.number or "") if s.inbound else None
        if entry is not None and entry.forward_to:
            return calls.Target(entry.forward_to, "answer", ""), {}
        return None, {}

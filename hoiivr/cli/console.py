"""The terminal phone of ``hoiivr dev`` and ``hoiivr call``: you are the caller.

:class:`Console` places a call through a :class:`~hoiivr.line.Line`, prints the call's
timeline as it happens (from a thread that polls the simulator every 100 ms), and reads
lines from stdin: keys to press, or a command (``/help`` lists them). When stdin is not a
terminal (a script, a pipe), each line waits until the call waits for the caller (or has
ended) before it is acted on, so ``printf '1\\n/quit\\n' | hoiivr dev app.py`` presses 1
when the menu is listening, not while the app is still answering.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, ClassVar

import click

from ..protocol import is_e164
from ..testing.app_errors import AppErrors
from .line import Line, LineError
from .timeline import Shown, Watch, arrows_supported, summary

__all__ = ["Console", "Speaker"]

KEYS = frozenset("0123456789*#")
BEHAVIOURS = ("busy", "answer", "unanswered", "failed")
WILL = {"busy": "be busy", "answer": "answer", "unanswered": "ring without an answer",
        "failed": "fail to connect"}
STYLES: dict[str | None, dict[str, Any]] = {
    None: {}, "prompt": {"fg": "cyan", "bold": True}, "key": {"fg": "yellow"},
    "error": {"fg": "red"}, "end": {"fg": "green"}, "note": {"dim": True},
}
HELP = """\
Type keys and press Enter to press them: 1, 1234#, * ...
  /speak [SECONDS]     talk for SECONDS (default 5), e.g. to leave a voicemail
  /say WORDS           say WORDS, e.g. /say sales (heard where the app listens for speech)
  /hangup              hang up
  /call                call again
  /busy NUMBER         NUMBER is busy when the app transfers to it or dials it
  /answer NUMBER       NUMBER answers (every number does, until told otherwise)
  /unanswered NUMBER   NUMBER rings and rings
  /failed NUMBER       calls to NUMBER fail
  /help                this help
  /quit                hang up and quit (Ctrl-D and Ctrl-C quit too)"""


def _phone_command(behaviour: str) -> Callable[[Console, list[str]], None]:
    """``/busy NUMBER`` and its kind: how NUMBER behaves when the app calls it."""
    def set_phone(console: Console, args: list[str]) -> None:
        if len(args) != 1 or not is_e164(args[0]):
            console.echo(f"/{behaviour} takes one number in E.164 form, e.g. /{behaviour} "
                         "+6522222222", "error")
            return
        console.line.set_phone(args[0], behaviour)
        console.echo(f"{args[0]} will {WILL[behaviour]}.", "note")
    return set_phone


class Speaker:
    """Says prompts aloud with espeak-ng; a new prompt (or a key) cuts the one playing."""

    def __init__(self, program: str, words_per_minute: int = 165) -> None:
        self.program = program
        self.words_per_minute = words_per_minute
        self._process: subprocess.Popen[bytes] | None = None

    def say(self, text: str) -> None:
        self.stop()
        if text:
            self._process = subprocess.Popen(
                [self.program, "-s", str(self.words_per_minute), "--", text],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
            process.wait()

    close = stop


class Console:
    """Be the caller of ``number`` from ``caller`` on ``line``, in this terminal."""

    #: Seconds between two looks at the call.
    POLL = 0.1

    def __init__(self, line: Line, caller: str, number: str, *, speaker: Speaker | None = None,
                 scripted: bool = False, settle_limit: float = 30.0,
                 stdin: IO[str] | None = None, app_errors: AppErrors | None = None) -> None:
        self.line = line
        #: The errors of the app's handlers, shown in the timeline (an app in this process).
        self.app_errors = app_errors
        self.caller = caller
        self.number = number
        self.speaker = speaker
        self.scripted = scripted
        self.settle_limit = settle_limit
        self.stdin = stdin
        self.watch: Watch | None = None
        self.arrows = arrows_supported()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._trouble: str | None = None
        self._quitting = False
        self._silenced = False          # stdout has closed

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Call, then act on each line typed until /quit, end of input or Ctrl-C. The first
        call's :class:`LineError` (the number is unknown, ...) is raised; later ones shown."""
        self.place_call()
        self.echo("Type keys and press Enter to press them; /help lists the commands.",
                  "note")
        watcher = threading.Thread(target=self._watch, name="hoiivr-console", daemon=True)
        watcher.start()
        try:
            self._read_commands()
        except KeyboardInterrupt:
            self.echo("")
        finally:
            self._quitting = True
            self._stopping.set()
            watcher.join(5)
            self._hang_up_on_quit()
            if self.speaker is not None:
                self.speaker.close()

    def _read_commands(self) -> None:
        stdin = self.stdin or sys.stdin
        while True:
            text = stdin.readline()
            if self.scripted:
                self.settle()
            if not text or self._silenced:      # end of input (Ctrl-D), or of output
                return
            if self.scripted and text.strip():
                self.echo(f"> {text.strip()}", "note")
            if not self.handle(text):
                return

    def handle(self, text: str) -> bool:
        """Act on one line; False when it asks to quit."""
        text = text.strip()
        if not text:
            return True
        if text.startswith("/"):
            name, *args = text.split()
            command = self.COMMANDS.get(name.lower())
            if command is None:
                self.echo(f"{name} is not a command; /help lists them", "error")
                return True
            try:
                return command(self, args) is not False
            except LineError as exc:
                self.echo(str(exc), "error")
                return True
        keys = "".join(text.split())
        if not set(keys) <= KEYS:
            self.echo(f"{text!r} is not keys to press: type digits, * or #, or a command "
                      "such as /quit (/help lists them)", "error")
            return True
        self._act(lambda session: self.line.press(session, keys))
        return True

    # -- the call ----------------------------------------------------------------------------

    def place_call(self) -> None:
        with self._lock:
            session = self.line.call(self.caller, self.number)
            self.watch = Watch(session)
            self.echo(f"Calling {self.number} from {self.caller} (call {session}).", "note")

    @property
    def live(self) -> bool:
        """A call was placed and its end has not been shown yet."""
        return self.watch is not None and not self.watch.finished

    def settle(self) -> None:
        """Wait until the call waits for the caller or has ended, then show what happened."""
        watch = self.watch
        if watch is not None and not watch.finished:
            try:
                if not self.line.settle(watch.session, self.settle_limit):
                    self.echo(f"(the call is still busy after {self.settle_limit:g} s; going "
                              "on)", "note")
            except LineError as exc:
                self._report(exc)
        self.refresh()

    def refresh(self) -> None:
        """Print the call's entries not shown yet, and its summary once it has ended."""
        with self._lock:
            watch = self.watch
            if watch is None or watch.finished:
                return
            try:
                info = self.line.get_call(watch.session)
            except LineError as exc:
                self._report(exc)
                return
            self._trouble = None
            if self.app_errors is not None:
                info["timeline"] = self.app_errors.timeline(info)
            for shown in watch.new(info):
                self.show(shown)
            turn = watch.turn(info)
            if turn is not None:
                self.show(turn)
            if watch.ended(info):
                watch.finished = True
                self.echo("")
                self.echo(summary(info), "end")
                if not self._quitting:
                    self.echo("Type /call to call again, or /quit.", "note")

    def show(self, shown: Shown) -> None:
        self.echo(shown.render(self.arrows), shown.style)
        if self.speaker is not None:
            if shown.spoken:
                self.speaker.say(shown.spoken)
            elif shown.style == "key":
                self.speaker.stop()

    def echo(self, text: str, style: str | None = None) -> None:
        with self._lock:
            if self._silenced:
                return
            try:
                click.echo(click.style(text, **STYLES[style]) if text and style else text)
            except OSError:             # BrokenPipeError: `hoiivr dev ... | head` is done
                self._silence()

    def _silence(self) -> None:
        """Stdout has closed: nobody reads the timeline any more, so stop watching the call,
        write nothing more, and quit at the next line read."""
        self._silenced = True
        self._stopping.set()

    def _watch(self) -> None:
        while not self._stopping.wait(self.POLL):
            self.refresh()

    def _report(self, exc: LineError) -> None:
        """Show a problem reaching the simulator once, not every 100 ms."""
        if str(exc) != self._trouble:
            self._trouble = str(exc)
            self.echo(str(exc), "error")

    def _act(self, action: Callable[[str], None]) -> None:
        """Do ``action(session)`` on the live call, or say why there is none."""
        if not self.live:
            self.echo("There is no call in progress; /call to call again.", "error")
            return
        assert self.watch is not None
        try:
            action(self.watch.session)
        except LineError as exc:
            if exc.status == 409:       # it ended meanwhile
                self.echo("The call has ended; /call to call again.", "error")
            else:
                self.echo(str(exc), "error")

    def _hang_up_on_quit(self) -> None:
        if not self.live:
            return
        assert self.watch is not None
        try:
            self.line.hangup(self.watch.session)
            self.line.settle(self.watch.session, 5.0)
        except LineError:
            return                      # the simulator is gone: nothing more to show
        self.refresh()

    # -- commands ------------------------------------------------------------------------------

    def _hangup(self, args: list[str]) -> None:
        self._act(self.line.hangup)

    def _speak(self, args: list[str]) -> None:
        try:
            seconds = float(args[0]) if args else 5.0
        except ValueError:
            seconds = 0.0
        if not 0 < seconds <= 3600:
            self.echo("/speak takes a number of seconds from 0 to 3600, e.g. /speak 5", "error")
            return
        self._act(lambda session: self._talk(session, seconds))

    def _talk(self, session: str, seconds: float) -> None:
        """Talk, and come back when done: keys typed meanwhile are pressed after."""
        self.line.speak(session, seconds)
        self.line.settle(session, seconds + self.settle_limit)
        self.refresh()

    def _say(self, args: list[str]) -> None:
        words = " ".join(args)
        if not words:
            self.echo("/say takes the words the caller says, e.g. /say sales", "error")
            return
        self._act(lambda session: self._words(session, words))

    def _words(self, session: str, words: str) -> None:
        self.line.say(session, words)
        # Saying them takes a moment, and the Gather may wait out a speech timeout.
        self.line.settle(session, self.settle_limit + 5)
        self.refresh()

    def _call(self, args: list[str]) -> None:
        if self.live:
            self.echo("A call is in progress; /hangup first.", "error")
            return
        self.place_call()

    def _help(self, args: list[str]) -> None:
        self.echo(HELP, "note")

    def _quit(self, args: list[str]) -> bool:
        return False

    COMMANDS: ClassVar[dict[str, Callable[[Console, list[str]], bool | None]]] = {
        "/hangup": _hangup, "/speak": _speak, "/say": _say, "/call": _call, "/help": _help,
        "/quit": _quit, "/exit": _quit,
        **{f"/{b}": _phone_command(b) for b in BEHAVIOURS},
    }

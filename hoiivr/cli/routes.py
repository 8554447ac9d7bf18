"""``hoiivr routes APP``: the app's handlers and routes, and the gaps between them.

A *gap* is a step whose result no handler receives: a ``Gather(name="menu")`` with neither
``@ivr.on_gather("menu")`` nor a bare ``@ivr.on_gather``, or a handler whose blocks end
with a ``Play`` and no ``@ivr.on_play``. At run time the dispatcher hangs such a call up
with "Goodbye."; this command finds them before a caller does, by reading the source of
the app's module and of its handlers' modules with :mod:`ast`: every block constructor and
every ``ivr.dial(...)`` / ``ivr.unhold(...)`` call, with its ``name=``, and the blocks
each handler returns last.
"""
from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import click
from flask import Flask

from ..blocks import Block
from ..carriers import carrier_class, carrier_name
from ..flow import UNTIL_LAST
from ..ivr import IVR
from ..lint import BLOCK_NAMES, carrier_problems, returned_last
from ..registry import EVENTS
from ..runtime import Mount
from .flowchart import build_flow, to_dot, to_mermaid
from .loader import LoadedApp, load
from .source import BLOCK_EVENTS, DYNAMIC, IVR_CALL_EVENTS, app_modules, continues_on_failure, \
    name_keyword, unwrap

__all__ = ["Gap", "StepUse", "app_gaps", "ending_gaps", "find_gaps", "find_step_uses",
           "gap_lines", "routes_command"]

#: Events every use of which reaches a handler, named or not. A Play or Monitor reaches
#: one only when it is the last block returned, so only a *named* one is taken as a step.
ALWAYS_HANDLED = frozenset({"gather", "record", "transfer_failed", "dial_answered", "unhold"})
#: The events a handler's step name can come from (dial_failed shares dial's names).
SOURCE_EVENT = {"dial_failed": "dial_answered"}
GOODBYE = 'the caller hears "Goodbye." and is hung up'


@dataclass(frozen=True)
class StepUse:
    """One place in the source that starts a step whose result needs a handler."""

    what: str            # "Gather", "ivr.dial", ...
    event: str           # the event its result is dispatched as
    step: str | None     # its name=, None if unnamed, DYNAMIC if it cannot be known
    where: str           # module:line
    function: str | None
    computed: str | None = None   # the argument that is not a constant, if any

    @property
    def label(self) -> str:
        return f'{self.what} "{self.step}"' if self.step not in (None, DYNAMIC) else self.what


@dataclass(frozen=True)
class Gap:
    """A step (or the answer) with no handler for its result."""

    label: str
    places: tuple[str, ...]
    fix: str


# -- reading the source ------------------------------------------------------------------


def find_step_uses(loaded: LoadedApp) -> list[StepUse]:
    """Every step started in the app's module and in the modules of its handlers."""
    uses: dict[str, StepUse] = {}
    for module in app_modules(loaded):
        for use in _scan_module(module, loaded.ivr):
            uses.setdefault(f"{use.where}:{use.what}", use)
    return list(uses.values())


def _scan_module(module: ModuleType, ivr: IVR) -> list[StepUse]:
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return []   # no source to read (a compiled or generated module): nothing to check
    finder = _StepFinder(module, ivr)
    finder.visit(tree)
    return finder.uses


class _StepFinder(ast.NodeVisitor):
    def __init__(self, module: ModuleType, ivr: IVR) -> None:
        self.module = module
        self.ivr = ivr
        self.uses: list[StepUse] = []
        self.functions: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        found = self._block(node) or self._ivr_call(node)
        continues = continues_on_failure(node) if found and found[0] == "Transfer" else True
        if found is not None and continues is not False:
            step = name_keyword(node) if continues else DYNAMIC
            computed = None if step != DYNAMIC else "on_failure" if not continues else "name"
            self.uses.append(StepUse(found[0], found[1], step,
                                     f"{self.module.__name__}:{node.lineno}",
                                     self.functions[-1] if self.functions else None, computed))
        self.generic_visit(node)

    def _block(self, node: ast.Call) -> tuple[str, str] | None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else None
        if name not in BLOCK_EVENTS:
            return None
        if isinstance(func, ast.Name) and func.id in vars(self.module) \
                and vars(self.module)[func.id] is not BLOCK_NAMES[name]:
            return None      # a Gather of the user's own, not hoiivr's
        return name, BLOCK_EVENTS[name]

    def _ivr_call(self, node: ast.Call) -> tuple[str, str] | None:
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in IVR_CALL_EVENTS:
            return None
        receiver = vars(self.module).get(func.value.id) if isinstance(func.value, ast.Name) \
            else None
        named = any(k.arg == "name" for k in node.keywords)
        # ivr.dial takes name=; HoiioClient.dial and Hoiio.ivr.dial do not, so a name= on
        # an object we cannot resolve (self.ivr.dial) still marks an IVR call.
        if receiver is self.ivr or (receiver is None and named):
            return f"ivr.{func.attr}", IVR_CALL_EVENTS[func.attr]
        return None


# -- comparing -----------------------------------------------------------------------------


def find_gaps(ivr: IVR, uses: Iterable[StepUse]) -> list[Gap]:
    """The steps in ``uses`` that no handler of ``ivr`` receives, a missing on_answer, and
    the Plays its handlers end with that no on_play receives (:func:`ending_gaps`)."""
    gaps: list[Gap] = []
    if ivr.find_handler("answer", None) is None:
        gaps.append(Gap("an incoming call", (), "add @ivr.on_answer"))
    grouped: dict[tuple[str, str, str | None], list[str]] = {}
    for use in uses:
        if use.step == DYNAMIC or (use.step is None and use.event not in ALWAYS_HANDLED):
            continue
        if ivr.find_handler(use.event, use.step) is None:
            grouped.setdefault((use.what, use.event, use.step), []).append(_place(use))
    for (what, event, step), places in grouped.items():
        label = StepUse(what, event, step, "", None).label
        decorator = f'@ivr.on_{event}("{step}")' if step else f"@ivr.on_{event}"
        also = f" (or a bare @ivr.on_{event})" if step else ""
        gaps.append(Gap(label, tuple(places), f"add {decorator}{also}"))
    return gaps + ending_gaps(ivr)


def ending_gaps(ivr: IVR) -> list[Gap]:
    """An unnamed Play (or Monitor) that a handler returns last, when no bare ``on_play``
    (``on_monitor``) receives its end: once it has played, the call has nothing to do."""
    places: dict[type[Block], list[str]] = {}
    for use in returned_last(ivr):
        kind = use.block.kind
        if kind in UNTIL_LAST and "name" not in use.options and \
                ivr.find_handler(kind, None) is None:
            places.setdefault(use.block, []).append(use.place)
    return [Gap(f"{block.__name__} returned last", tuple(found),
                UNTIL_LAST[block.kind][1].format(decorator=f"@ivr.on_{block.kind}"))
            for block, found in places.items()]


def find_unused(ivr: IVR, uses: Iterable[StepUse]) -> list[str]:
    """Named handlers for steps no code creates: often a misspelt step name."""
    uses = list(uses)
    made = {(u.event, u.step) for u in uses}
    dynamic = {u.event for u in uses if u.step == DYNAMIC}
    notes = []
    for (event, step), handler in ivr.handlers.items():
        source = SOURCE_EVENT.get(event, event)
        if step is not None and (source, step) not in made and source not in dynamic:
            notes.append(f'@ivr.on_{event}("{step}") ({_handler_place(handler)}): no block or '
                         f'ivr call named "{step}" was found; is the name misspelt?')
    notes += [f"{u.what} at {_place(u)}: {u.computed}= is not a constant, so it was not "
              "checked" for u in uses if u.step == DYNAMIC]
    return notes


def _place(use: StepUse) -> str:
    return f"{use.where} in {use.function}()" if use.function else use.where


def _handler_place(handler: Any) -> str:
    func = unwrap(handler)
    code = getattr(func, "__code__", None)
    module = getattr(func, "__module__", None) or "?"
    return f"{module}:{code.co_firstlineno}" if code is not None else module


def _handler_name(handler: Any) -> str:
    return getattr(unwrap(handler), "__qualname__", None) or repr(handler)


def app_gaps(loaded: LoadedApp) -> list[Gap]:
    """The gaps of ``loaded``'s app (what ``hoiivr routes`` lists under Gaps)."""
    return find_gaps(loaded.ivr, find_step_uses(loaded))


# -- printing --------------------------------------------------------------------------------


def gap_lines(gaps: list[Gap]) -> list[str]:
    """The gaps in a few lines, for a command that only warns of them (``hoiivr dev``)."""
    if not gaps:
        return []
    lines = [f"Gaps ({len(gaps)}): no handler receives these; {GOODBYE} "
             "(hoiivr routes APP tells more)"]
    for gap in gaps:
        where = f" at {', '.join(gap.places)}" if gap.places else ""
        lines.append(f"  {gap.label}{where}: {gap.fix}")
    return lines


def table(rows: list[tuple[str, ...]], indent: str = "  ") -> Iterator[str]:
    """``rows`` as lines with aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths)]
        yield (indent + "  ".join(cells)).rstrip()


def route_rows(app: Flask) -> list[tuple[str, ...]]:
    mount: Mount = app.extensions["hoiivr"]
    carrier = carrier_class(carrier_name(mount.settings))
    about = {"hoiivr.answer": f"answer URL: the {carrier.number_url}",
             "hoiivr.notify": "notify URL of every block (a signed token per step)"}
    methods = ",".join(sorted(carrier.methods))       # what the carrier's webhooks use
    return [(methods, rule.rule, about[rule.endpoint]) for rule in app.url_map.iter_rules()
            if rule.endpoint in about]


def handler_rows(ivr: IVR) -> list[tuple[str, ...]]:
    order = sorted(ivr.handlers.items(), key=lambda item: (EVENTS.index(item[0][0]),
                                                           item[0][1] or ""))
    rows: list[tuple[str, ...]] = [(event, step or "-", _handler_name(h), _handler_place(h))
                                   for (event, step), h in order]
    rows += [("error", cls.__name__, _handler_name(h), _handler_place(h))
             for cls, h in ivr.error_handlers]
    return rows


def print_report(loaded: LoadedApp, gaps: list[Gap], notes: list[str],
                 lacking: list[str]) -> None:
    app, ivr = loaded.app, loaded.ivr
    mount: Mount = app.extensions["hoiivr"]
    prefix = mount.url_prefix
    click.secho(f"App {loaded.spec} (IVR at {prefix or '/'})", bold=True)
    click.echo("\nRoutes")
    for line in table(route_rows(app)):
        click.echo(line)
    public = mount.settings.get("HOIIVR_PUBLIC_URL")
    answer = f"{public.rstrip('/')}{prefix}/answer" if public else \
        f"<public URL>{prefix}/answer (set HOIIVR_PUBLIC_URL, or see hoiivr run)"
    click.echo(f"  Give the provider: {answer}")
    click.echo("\nHandlers")
    rows = handler_rows(ivr)
    for line in table([("EVENT", "STEP", "HANDLER", "WHERE"), *rows]) if rows else ["  (none)"]:
        click.echo(line)
    if notes:
        click.secho("\nWarnings", fg="yellow")
        for note in notes:
            click.echo(f"  {note}")
    if lacking:
        name = carrier_name(mount.settings)
        click.secho(f"\nNot on the {name} carrier ({len(lacking)}): the app is refused when it "
                    "starts", fg="red", bold=True)
        for problem in lacking:
            click.echo(f"  {problem}")
    if not gaps:
        click.secho("\nNo gaps: every step has a handler for its result.", fg="green")
        return
    click.secho(f"\nGaps ({len(gaps)}): no handler receives these; {GOODBYE}", fg="red",
                bold=True)
    for line in table([(gap.label, ", ".join(gap.places) or "-", gap.fix) for gap in gaps]):
        click.echo(line)


@click.command("routes")
@click.argument("app_spec", metavar="APP")
@click.option("--format", "form", type=click.Choice(["text", "mermaid", "dot"]),
              default="text", show_default=True,
              help="text: the handlers, routes and gaps; mermaid or dot: the call flow as "
                   "a diagram (Mermaid's flowchart, Graphviz's digraph).")
@click.pass_context
def routes_command(ctx: click.Context, app_spec: str, form: str) -> None:
    """Show the handlers and routes of APP, and the gaps between them.

    APP is module:attr, a module, path/to/app.py or path/to/app.py:attr, naming a Flask
    app, an IVR or an app factory (create_app).

    A gap is a step whose result no handler receives, e.g. Gather(name="menu") with no
    @ivr.on_gather("menu") and no bare @ivr.on_gather, a handler whose blocks end with a
    Play and no @ivr.on_play, or an app with no @ivr.on_answer; such a caller hears
    "Goodbye." and is hung up. What the app asks that its carrier lacks (a Monitor on
    Twilio, say) is listed too. The exit status is 1 when there are gaps or such blocks,
    so the command can run in CI.

    --format mermaid (or dot) prints the call flow instead: each handler, the steps it can
    return and the handlers that receive them, read from the source; computed step names
    and flows the source does not show are dashed, gaps are drawn in red.

    \b
        hoiivr routes myapp:app
        hoiivr routes path/to/app.py
        hoiivr routes path/to/app.py --format mermaid > flow.mmd
        hoiivr routes path/to/app.py --format dot | dot -Tsvg > flow.svg
    """
    # Reading the routes builds no runtime: it needs no credentials, and creates no store.
    loaded = load(app_spec)
    if form != "text":
        flow = build_flow(loaded)
        click.echo(to_mermaid(flow) if form == "mermaid" else to_dot(flow), nl=False)
        return
    uses = find_step_uses(loaded)
    gaps = find_gaps(loaded.ivr, uses)
    carrier = carrier_class(carrier_name(loaded.app.extensions["hoiivr"].settings))
    lacking = carrier_problems(loaded.ivr, carrier)
    print_report(loaded, gaps, find_unused(loaded.ivr, uses), lacking)
    ctx.exit(1 if gaps or lacking else 0)

"""Find the app a command line names: ``module:attr``, ``module``, ``path/to/app.py[:attr]``.

The approach is Flask's ``cli.py``: a file path becomes an importable module name (its
directory, or the top of its package, goes on ``sys.path``); a module is searched for the
best candidate. What a command needs is a Flask app with an :class:`~hoiivr.IVR` mounted
on it, and the name may point at either of them, or at an app factory::

    app, ivr = load_app("myapp:app")          # a Flask app
    app, ivr = load_app("myapp.py:ivr")       # the IVR: its app is found in the module
    app, ivr = load_app("myapp:create_app")   # a factory, called with no arguments

Problems with the name raise :class:`NoAppError` (a usage error, exit status 2); problems
in the user's code while it is imported or a factory runs raise :class:`AppImportError`
(exit status 1). Both say how to fix them, with no traceback.
"""
from __future__ import annotations

import builtins
import contextlib
import difflib
import importlib
import inspect
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import click
from flask import Flask

from ..errors import HoiivrError
from ..ivr import IVR
from ..runtime import Mount

__all__ = ["AppImportError", "LoadedApp", "NoAppError", "load", "load_app"]

#: Names tried, in order, when APP names a module and no attribute.
APP_NAMES = ("app", "application")
FACTORY_NAMES = ("create_app", "make_app")
MOUNT_HINT = "call IVR(app) or ivr.init_app(app)"


class NoAppError(click.UsageError):
    """APP names no file, module or attribute, or nothing there is an app with an IVR."""


class AppImportError(click.ClickException):
    """The user's module or app factory raised an error while it was being loaded."""


@dataclass(frozen=True)
class LoadedApp:
    """What :func:`load` found: the Flask app, its IVR, and the module APP named."""

    app: Flask
    ivr: IVR
    module: ModuleType
    spec: str


def load_app(spec: str) -> tuple[Flask, IVR]:
    """The Flask app named by ``spec`` and the :class:`~hoiivr.IVR` mounted on it.

    :raises NoAppError: the name leads to no usable app.
    :raises AppImportError: the module or factory raised (a ``ConfigError``, an
        ``ImportError``, ...).
    """
    loaded = load(spec)
    return loaded.app, loaded.ivr


def load(spec: str) -> LoadedApp:
    """Like :func:`load_app`, keeping the module too (``hoiivr routes`` reads its source)."""
    target, attr = split_spec(spec)
    module = import_module(prepare_import(target))
    app = find_app(module, attr)
    return LoadedApp(app, ivr_of(app, _label(module, attr)), module, spec)


# -- naming and importing ----------------------------------------------------------------


def split_spec(spec: str) -> tuple[str, str | None]:
    """``"a/b.py:app"`` -> ``("a/b.py", "app")``. A colon followed by a path (as in
    ``C:\\apps\\x.py``) is part of the path, not an attribute separator."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not attr.isidentifier() or not target:
        return spec, None
    return target, attr


def is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or os.sep in target \
        or os.path.isdir(target)


def prepare_import(target: str) -> str:
    """The module name to import for ``target``, with its root put on ``sys.path``.

    A path walks up through packages (directories with ``__init__.py``) so that
    ``proj/pkg/app.py`` imports as ``pkg.app`` with ``proj`` on the path; a module name
    is looked up from the working directory first, as ``python -m`` would.
    """
    if not is_path(target):
        _put_first_on_path(os.getcwd())
        return target
    path = os.path.realpath(target)
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, "__init__.py")):
        raise NoAppError(f"{target!r} is a directory but not a Python package (it has no "
                         "__init__.py); name the app's file, e.g. path/to/app.py")
    if not os.path.exists(path):
        raise NoAppError(f"no such file: {target!r} (looked for {path}); check the path, or "
                         "give an importable module name such as myapp or myapp:app")
    if not os.path.isdir(path) and not path.endswith(".py"):
        raise NoAppError(f"{target!r} is not a Python file; name a .py file or a module")
    base = path.removesuffix(".py")
    if os.path.basename(base) == "__init__":
        base = os.path.dirname(base)
    parts: list[str] = []
    while True:
        base, name = os.path.split(base)
        parts.append(name)
        if not os.path.exists(os.path.join(base, "__init__.py")):
            break
    _put_first_on_path(base)
    name = ".".join(reversed(parts))
    _refuse_shadowed(name, path, target)
    return name


def _put_first_on_path(directory: str) -> None:
    directory = os.path.realpath(directory)
    if not sys.path or os.path.realpath(sys.path[0] or os.curdir) != directory:
        sys.path.insert(0, directory)


def _refuse_shadowed(name: str, path: str, target: str) -> None:
    """A file named like a module already imported (``select.py``) would not be loaded."""
    module = sys.modules.get(name)
    known = getattr(module, "__file__", None)
    if module is None or known is None:
        return
    if os.path.isdir(path):
        path = os.path.join(path, "__init__.py")
    if os.path.realpath(known) != path:
        raise NoAppError(f"{target!r} imports as the module {name!r}, but a module of that "
                         f"name is already loaded from {known}; rename the file")


def import_module(name: str) -> ModuleType:
    """Import ``name``, telling a missing module from an error raised inside it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise NoAppError(f"no module named {name!r} (looked in the current directory "
                             "and on sys.path); give its file path, e.g. path/to/app.py, or "
                             "run the command from the directory that holds it") from None
        raise _user_error(f"while importing {name!r}", exc) from None
    except Exception as exc:  # noqa: BLE001 -- the user's module: any bug, told cleanly
        raise _user_error(f"while importing {name!r}", exc) from None


def _user_error(doing: str, exc: BaseException) -> AppImportError:
    """``exc`` from the user's code, with where it was raised and no traceback."""
    if isinstance(exc, HoiivrError):
        return AppImportError(f"{doing}: {exc}")
    where: str | None
    if isinstance(exc, SyntaxError) and exc.filename:
        where, text = f"{exc.filename}:{exc.lineno}", str(exc.msg)
    else:
        where, text = _user_frame(exc), _message(exc)
    at = f" at {where}" if where else ""
    return AppImportError(f"{doing}, {type(exc).__name__} was raised{at}: {text}")


def _message(exc: BaseException) -> str:
    """``str(exc)``, with the "Did you mean: 'x'?" that Python adds to a NameError or an
    AttributeError only when it prints the exception (a misspelt name keeps its fix)."""
    text = str(exc)
    if not isinstance(exc, (NameError, AttributeError)):
        return text
    shown = traceback.TracebackException.from_exception(exc).format_exception_only()
    _, colon, told = next(iter(shown), "").rstrip("\n").partition(": ")
    if colon and told.startswith(text) and told != text:
        return told                     # Python 3.12 and later
    guess = _closest_name(exc)
    return f"{text}. Did you mean: {guess!r}?" if guess else text


def _closest_name(exc: NameError | AttributeError) -> str | None:
    """The name Python 3.10 and 3.11 would suggest when printing ``exc`` (their traceback
    module cannot): the closest of the object's attributes, or of the names the failing
    frame could see."""
    name = getattr(exc, "name", None)
    if not isinstance(name, str):
        return None
    if isinstance(exc, AttributeError):
        try:
            candidates = dir(exc.obj)
        except Exception:  # noqa: BLE001 -- an object whose dir() fails: no suggestion
            return None
    else:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        frame = tb.tb_frame if tb is not None else None
        candidates = [*vars(builtins)] + ([*frame.f_locals, *frame.f_globals] if frame else [])
    matches = difflib.get_close_matches(name, [c for c in candidates if c != name], n=1)
    return matches[0] if matches else None


def _user_frame(exc: BaseException) -> str | None:
    """``file:line`` of the innermost frame in the user's code (not Python's, not a
    library's, not hoiivr's), else of the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    libraries = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")}
                      | {os.path.dirname(os.path.dirname(__file__))})
    for frame in reversed(frames):
        if not frame.filename.startswith("<") and not frame.filename.startswith(libraries):
            return f"{frame.filename}:{frame.lineno}"
    return f"{frames[-1].filename}:{frames[-1].lineno}"


# -- finding the app -----------------------------------------------------------------------


def find_app(module: ModuleType, attr: str | None) -> Flask:
    """The Flask app ``attr`` names in ``module``, or the best one there if ``attr`` is None."""
    if attr is not None:
        if not hasattr(module, attr):
            raise NoAppError(f"module {module.__name__!r} has no attribute {attr!r}"
                             + _candidates_hint(module))
        return _app_from(module, attr, getattr(module, attr))
    return find_best_app(module)


def find_best_app(module: ModuleType) -> Flask:
    """``app`` or ``application``, else the one Flask app with an IVR, else a factory."""
    for name in APP_NAMES:
        app = getattr(module, name, None)
        if isinstance(app, Flask):
            return app
    apps: dict[str, Flask] = _instances(module, Flask)
    mounted = {n: a for n, a in apps.items() if "hoiivr" in a.extensions}
    for found in (apps, mounted):
        if len(found) == 1:
            return next(iter(found.values()))
    if apps:
        raise NoAppError(f"module {module.__name__!r} has several Flask apps "
                         f"({', '.join(apps)}); name one: {module.__name__}:{next(iter(apps))}")
    for name in FACTORY_NAMES:
        if callable(getattr(module, name, None)):
            return _app_from(module, name, getattr(module, name))
    ivrs = _instances(module, IVR)
    if ivrs:
        raise NoAppError(f"module {module.__name__!r} has an IVR ({', '.join(ivrs)}) but no "
                         f"Flask app it is mounted on, and no {' or '.join(FACTORY_NAMES)} "
                         f"factory; {MOUNT_HINT}")
    raise NoAppError(f"found no Flask app, IVR or app factory ({', '.join(FACTORY_NAMES)}) "
                     f"in module {module.__name__!r}; name it: {module.__name__}:NAME")


def _app_from(module: ModuleType, attr: str, obj: Any) -> Flask:
    label = f"{module.__name__}:{attr}"
    if isinstance(obj, Flask):
        return obj
    if isinstance(obj, IVR):
        return app_of_ivr(module, attr, obj)
    if callable(obj):
        return call_factory(label, obj)
    raise NoAppError(f"{label} is a {type(obj).__name__}, not a Flask app, an IVR or an app "
                     "factory" + _candidates_hint(module))


def app_of_ivr(module: ModuleType, attr: str, ivr: IVR) -> Flask:
    """The Flask app in ``module`` that ``ivr`` is mounted on (made by a factory, perhaps)."""
    apps: dict[str, Flask] = _instances(module, Flask)
    for app in apps.values():
        if _mounted_ivr(app) is ivr:
            return app
    for name in FACTORY_NAMES:
        factory = getattr(module, name, None)
        if callable(factory):
            app = call_factory(f"{module.__name__}:{name}", factory)
            if _mounted_ivr(app) is ivr:
                return app
    raise NoAppError(f"the IVR {module.__name__}:{attr} is not mounted on any Flask app in "
                     f"module {module.__name__!r}; {MOUNT_HINT} (or write a create_app() "
                     "factory that does)")


def call_factory(label: str, factory: Callable[..., Any]) -> Flask:
    """Call an app factory with no arguments; it must return a Flask app."""
    needed = _required_parameters(factory)
    if needed:
        raise NoAppError(f"the app factory {label} needs arguments ({', '.join(needed)}), but "
                         "hoiivr calls it with none; give them defaults, or write a "
                         "module-level app = create_app(...) and name that")
    try:
        app = factory()
    except Exception as exc:  # noqa: BLE001 -- the user's factory, any bug
        raise _user_error(f"while calling the app factory {label}()", exc) from None
    if not isinstance(app, Flask):
        raise NoAppError(f"the app factory {label}() returned {type(app).__name__}, not a "
                         "Flask app; return the app")
    return app


def _required_parameters(func: Callable[..., Any]) -> list[str]:
    try:
        parameters = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return []   # no signature to read (a builtin): just call it
    return [p.name for p in parameters if p.default is p.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def ivr_of(app: Flask, label: str) -> IVR:
    """The IVR mounted on ``app``, or a :class:`NoAppError` saying how to mount one."""
    ivr = _mounted_ivr(app)
    if ivr is None:
        raise NoAppError(f"the Flask app {label} has no IVR mounted; {MOUNT_HINT}")
    return ivr


def _mounted_ivr(app: Flask) -> IVR | None:
    mounted = app.extensions.get("hoiivr")
    handlers = mounted.handlers if isinstance(mounted, Mount) else None
    return handlers if isinstance(handlers, IVR) else None


def _instances(module: ModuleType, cls: type) -> dict[str, Any]:
    """The module's attributes that are ``cls`` instances, by name, one name per object."""
    found: dict[str, Any] = {}
    for name, value in vars(module).items():
        if isinstance(value, cls) and not any(v is value for v in found.values()):
            found[name] = value
    return found


def _candidates_hint(module: ModuleType) -> str:
    names = [*_instances(module, Flask), *_instances(module, IVR),
             *(n for n in FACTORY_NAMES if callable(getattr(module, n, None)))]
    if not names:
        return ""
    return f"; it has {', '.join(f'{module.__name__}:{n}' for n in names)}"


def _label(module: ModuleType, attr: str | None) -> str:
    return f"{module.__name__}:{attr}" if attr else f"found in module {module.__name__!r}"


@contextlib.contextmanager
def environment(values: Mapping[str, str | None],
                defaults: Mapping[str, str] | None = None) -> Iterator[None]:
    """Set environment variables (``None``: leave alone) and ``defaults`` (only where unset)
    for the duration of the block, then put every one back as it was."""
    wanted = {k: v for k, v in values.items() if v is not None}
    wanted.update({k: v for k, v in (defaults or {}).items() if k not in os.environ
                   and k not in wanted})
    saved = {key: os.environ.get(key) for key in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

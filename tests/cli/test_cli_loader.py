"""load_app: every form of APP, and every way naming an app can go wrong."""
from __future__ import annotations

import sys

import click
import pytest
from cli_support import APPS, CONFIG
from flask import Flask

from hoiivr.cli.loader import AppImportError, NoAppError, load, load_app, split_spec
from hoiivr.cli.routes import routes_command


def ivr_app_source(extra: str = "") -> str:
    return ("from flask import Flask\nfrom hoiivr import IVR\n"
            "app = Flask(__name__)\n" + CONFIG + "ivr = IVR(app)\n" + extra)


# -- the forms of APP ------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["cliapp_menu:app", "cliapp_menu", "cliapp_menu:ivr"])
def test_a_module_name_is_looked_up_from_the_working_directory(monkeypatch, spec):
    monkeypatch.chdir(APPS)
    app, ivr = load_app(spec)
    module = sys.modules["cliapp_menu"]
    assert app is module.app and ivr is module.ivr


@pytest.mark.parametrize("suffix", ["", ":app", ":ivr"])
def test_a_file_path_with_or_without_an_attribute(suffix):
    app, ivr = load_app(str(APPS / "cliapp_menu.py") + suffix)
    assert isinstance(app, Flask) and ivr.find_handler("answer", None).__name__ == "answer"


def test_a_relative_file_path(monkeypatch):
    monkeypatch.chdir(APPS.parent)
    app, _ = load_app("apps/cliapp_menu.py")
    assert app.config["HOIIO_APP_ID"] == "AP-menu"


@pytest.mark.parametrize("suffix", ["", ":create_app", ":ivr"])
def test_an_app_factory_is_called_and_an_ivr_finds_the_app_it_makes(suffix):
    app, ivr = load_app(str(APPS / "cliapp_factory.py") + suffix)
    assert app.config["HOIIO_APP_ID"] == "AP-factory"
    assert ivr is sys.modules["cliapp_factory"].ivr
    assert app.extensions["hoiivr"].handlers is ivr


def test_make_app_and_any_named_callable_are_factories(write_app):
    source = ("from flask import Flask\nfrom hoiivr import IVR\n"
              "def make_app():\n    app = Flask('made')\n    " + CONFIG + "    IVR(app)\n"
              "    return app\n"
              "def build(debug=False):\n    return make_app()\n")
    path = write_app("made_app.py", source)
    assert load_app(str(path))[0].name == "made"
    assert load_app(f"{path}:build")[0].name == "made"


def test_a_package_is_imported_as_a_package(write_app, tmp_path):
    write_app("proj/pkg/__init__.py", "")
    write_app("proj/pkg/phone.py", ivr_app_source())
    loaded = load(str(tmp_path / "proj" / "pkg" / "phone.py"))
    assert loaded.module.__name__ == "pkg.phone"
    assert str(tmp_path / "proj") in sys.path


def test_the_app_with_an_ivr_wins_among_several_flask_apps(write_app):
    path = write_app("two_apps.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                     "admin = Flask('admin')\nphone = Flask('phone')\n"
                     + CONFIG.replace("app.", "phone.") + "ivr = IVR(phone)\n")
    app, ivr = load_app(str(path))
    assert app.name == "phone" and ivr is sys.modules["two_apps"].ivr


@pytest.mark.parametrize("spec, expected", [
    ("myapp", ("myapp", None)), ("myapp:app", ("myapp", "app")),
    ("a/b.py:create_app", ("a/b.py", "create_app")), ("C:\\apps\\x.py", ("C:\\apps\\x.py", None)),
    ("C:\\apps\\x.py:app", ("C:\\apps\\x.py", "app")),
])
def test_split_spec(spec, expected):
    assert split_spec(spec) == expected


# -- what goes wrong, told without a traceback ------------------------------------------------


def fails(spec: str, error: type[click.ClickException]) -> str:
    with pytest.raises(error) as info:
        load_app(spec)
    assert "\x1b[" not in info.value.message
    return info.value.message


def test_no_such_file(tmp_path):
    message = fails(str(tmp_path / "nope.py"), NoAppError)
    assert "no such file" in message and "nope.py" in message


def test_no_such_module(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    message = fails("no_such_module_here:app", NoAppError)
    assert "no module named 'no_such_module_here'" in message
    assert "path/to/app.py" in message


def test_an_import_error_inside_the_module_is_shown_with_its_line(write_app):
    path = write_app("needs_dep.py", "import os\nimport not_a_real_dependency_xyz\n")
    message = fails(str(path), AppImportError)
    assert "while importing 'needs_dep'" in message
    assert "No module named 'not_a_real_dependency_xyz'" in message
    assert f"{path}:2" in message


def test_a_syntax_error_points_at_the_line(write_app):
    path = write_app("bad_syntax.py", "x = 1\ndef broken(:\n")
    message = fails(str(path), AppImportError)
    assert "SyntaxError" in message and f"{path}:2" in message


def test_any_error_while_importing_says_where(write_app):
    path = write_app("divides.py", "x = 1\ny = x / 0\n")
    message = fails(str(path), AppImportError)
    assert f"ZeroDivisionError was raised at {path}:2: division by zero" in message


def test_a_misspelt_name_keeps_pythons_suggestion(write_app):
    path = write_app("misspelt_name.py", ivr_app_source("from hoiivr import Gather\n"
                                                         "PROMPT = Gathr('Press 1.')\n"))
    message = fails(str(path), AppImportError)
    assert f"NameError was raised at {path}:7: name 'Gathr' is not defined. Did you mean: " \
           "'Gather'?" in message


def test_a_misspelt_attribute_keeps_pythons_suggestion(write_app):
    path = write_app("misspelt_attribute.py", "import json\nload = json.laods\n")
    message = fails(str(path), AppImportError)
    assert "module 'json' has no attribute 'laods'. Did you mean: 'loads'?" in message


def test_a_misspelt_decorator_lists_them_and_says_which_one_was_meant(runner, write_app):
    path = write_app("misspelt_decorator.py", ivr_app_source(
        "@ivr.on_gathr('menu')\ndef menu(call):\n    return None\n"))
    result = runner.invoke(routes_command, [str(path)])
    assert result.exit_code == 1
    assert f"AttributeError was raised at {path}:6: IVR has no decorator on_gathr (the " \
           "decorators are @ivr.on_answer, @ivr.on_dial_answered, " in result.output
    assert result.output.rstrip().endswith("@ivr.on_hangup and @ivr.errorhandler("
                                           "ExceptionClass)). Did you mean: 'on_gather'?")
    assert "Traceback" not in result.output


def test_no_such_attribute_lists_what_is_there():
    message = fails(f"{APPS / 'cliapp_menu.py'}:aap", NoAppError)
    assert "module 'cliapp_menu' has no attribute 'aap'" in message
    assert "cliapp_menu:app" in message and "cliapp_menu:ivr" in message


def test_an_attribute_that_is_no_app(write_app):
    path = write_app("versioned.py", ivr_app_source("VERSION = '1.0'\n"))
    message = fails(f"{path}:VERSION", NoAppError)
    assert "versioned:VERSION is a str, not a Flask app, an IVR or an app factory" in message


def test_nothing_app_like(write_app):
    path = write_app("plain.py", "x = 1\n")
    message = fails(str(path), NoAppError)
    assert "found no Flask app, IVR or app factory" in message and "plain:NAME" in message


def test_a_flask_app_without_an_ivr(write_app):
    path = write_app("bare_flask.py", "from flask import Flask\napp = Flask(__name__)\n")
    for spec in (str(path), f"{path}:app"):
        message = fails(spec, NoAppError)
        assert "has no IVR mounted; call IVR(app) or ivr.init_app(app)" in message


def test_an_ivr_mounted_on_no_app(write_app):
    path = write_app("lonely_ivr.py", "from hoiivr import IVR\nivr = IVR()\n")
    assert "call IVR(app) or ivr.init_app(app)" in fails(f"{path}:ivr", NoAppError)
    assert "has an IVR (ivr) but no Flask app" in fails(str(path), NoAppError)


def test_several_flask_apps_must_be_named(write_app):
    path = write_app("crowded.py", "from flask import Flask\nweb = Flask('a')\nadmin = Flask('b')\n")
    message = fails(str(path), NoAppError)
    assert "several Flask apps (web, admin)" in message and "crowded:web" in message


def test_a_factory_that_needs_arguments(write_app):
    path = write_app("needs_args.py", "def create_app(config, debug=False):\n    pass\n")
    message = fails(str(path), NoAppError)
    assert "needs_args:create_app needs arguments (config)" in message


def test_a_factory_that_raises(write_app):
    path = write_app("raising_factory.py", "def create_app():\n    raise ValueError('no db')\n")
    message = fails(str(path), AppImportError)
    assert ("while calling the app factory raising_factory:create_app(), ValueError was "
            f"raised at {path}:2: no db") in message


def test_a_factory_that_returns_something_else(write_app):
    path = write_app("wrong_factory.py", "def create_app():\n    return 42\n")
    assert "returned int, not a Flask app" in fails(str(path), NoAppError)


def test_an_app_without_credentials_loads(write_app):
    """Credentials are read when the first call needs them, not when IVR(app) is mounted."""
    path = write_app("unconfigured.py", "from flask import Flask\nfrom hoiivr import IVR\n"
                                        "app = Flask(__name__)\nivr = IVR(app)\n")
    app, ivr = load_app(str(path))
    assert app.extensions["hoiivr"].handlers is ivr


def test_an_app_factory_without_credentials_loads(write_app):
    path = write_app("unconfigured_factory.py",
                     "from flask import Flask\nfrom hoiivr import IVR\n"
                     "def create_app():\n    app = Flask(__name__)\n    IVR(app)\n    return app\n")
    app, _ = load_app(str(path))
    assert "/hoiio/answer" in {rule.rule for rule in app.url_map.iter_rules()}


def test_a_file_shadowed_by_a_loaded_module(write_app):
    path = write_app("json.py", ivr_app_source())
    message = fails(str(path), NoAppError)
    assert "imports as the module 'json'" in message and "rename the file" in message


def test_a_directory_that_is_not_a_package(tmp_path):
    assert "not a Python package" in fails(str(tmp_path), NoAppError)


# -- the same errors at the command line: exit status, no traceback ---------------------------


@pytest.mark.parametrize("source, spec_suffix, code, text", [
    (None, "", 2, "no such file"),
    ("x = 1\n", ":nope", 2, "has no attribute 'nope'"),
    ("from flask import Flask\napp = Flask(__name__)\n", "", 2, "call IVR(app) or ivr.init_app(app)"),
    # routes needs no credentials: an unconfigured app loads, and its gap is shown
    ("from flask import Flask\nfrom hoiivr import IVR\napp = Flask(__name__)\nIVR(app)\n", "", 1,
     "add @ivr.on_answer"),
    ("import not_a_real_dependency_xyz\n", "", 1, "No module named 'not_a_real_dependency_xyz'"),
    ("def create_app():\n    raise RuntimeError('boom')\n", "", 1, "RuntimeError was raised"),
])
def test_command_line_errors(runner, write_app, tmp_path, source, spec_suffix, code, text):
    path = write_app("cmd_app.py", source) if source else tmp_path / "missing.py"
    result = runner.invoke(routes_command, [f"{path}{spec_suffix}"])
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output
    if code == 2:
        assert "Usage:" in result.output


def test_command_line_no_such_module(runner, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(routes_command, ["no_such_module_here:app"])
    assert result.exit_code == 2
    assert "Error: no module named 'no_such_module_here'" in result.output

"""The web softphone and call inspector, served at the simulator's root ``/``.

A static page (``static/index.html`` with its CSS and JavaScript, no build step, nothing
fetched from the internet) that drives calls and reads them through the control API under
``/sim/``: it needs no route of its own beyond the page and its files.

==========================  ===========================================================
``GET /``                   the softphone and inspector page
``GET /ui/<file>``          its stylesheet and scripts (``hoiivr/simulator/static/``)
==========================  ===========================================================
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).with_name("static")


def blueprint() -> Blueprint:
    """The page at ``/`` and its files at ``/ui/``."""
    bp = Blueprint("webui", __name__, static_folder=str(STATIC), static_url_path="/ui")

    @bp.get("/")
    def index() -> Response:
        return send_from_directory(STATIC, "index.html")

    return bp

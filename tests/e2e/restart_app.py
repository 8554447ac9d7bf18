"""An app whose prompts say which process answered and which finished the call.

Run as ``python restart_app.py PORT``, configured by the environment (HOIIVR_STORE...).
"""
from __future__ import annotations

import os
import sys

from flask import Flask
from werkzeug.serving import make_server

from hoiivr import IVR, Gather, Hangup

app = Flask(__name__)
ivr = IVR(app)


@ivr.on_answer
def answer(call):
    call.state["answered_by"] = os.getpid()
    return Gather("Press 1.", max_digits=1, timeout=30, name="menu")


@ivr.on_gather("menu")
def menu(call):
    return Hangup(f"Answered by {call.state['answered_by']}, finished by {os.getpid()}.")


if __name__ == "__main__":
    server = make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True)
    print("ready", flush=True)
    server.serve_forever()

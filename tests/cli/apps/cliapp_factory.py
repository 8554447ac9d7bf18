"""The factory pattern: an IVR at module level, mounted by create_app()."""
from flask import Flask

from hoiivr import IVR, Hangup

ivr = IVR(url_prefix="/ivr")


@ivr.on_answer
def answer(call):
    return Hangup("Hello from the factory. Goodbye.")


def create_app():
    app = Flask(__name__)
    app.config.update(HOIIO_APP_ID="AP-factory", HOIIO_ACCESS_TOKEN="factory-token",
                      SECRET_KEY="factory-secret")
    ivr.init_app(app)
    return app

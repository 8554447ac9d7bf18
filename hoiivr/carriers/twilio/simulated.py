"""A ``twilio.rest.Client`` for a Twilio that is not api.twilio.com: hoiivr's simulator
(``hoiivr simulator``, ``Phone``, ``hoiivr dev``) or any Calls API at ``api_url``.

``client.api.base_url`` is where the Calls resource lives (TWIML.md §6); the client is
given an environment of its own, so that ``TWILIO_EDGE`` or ``TWILIO_REGION`` in the
process environment cannot send its requests elsewhere. ``adapter`` (a requests
transport adapter, e.g. the simulator's ``WSGIAdapter``) answers them in-process.
"""
from __future__ import annotations

from requests.adapters import BaseAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

#: Seconds a Calls request may take.
TIMEOUT = 10.0


def client_for(account_sid: str, auth_token: str, api_url: str,
               adapter: BaseAdapter | None = None) -> Client:
    """A Client whose requests go to ``api_url`` (through ``adapter`` if given)."""
    http = TwilioHttpClient(timeout=TIMEOUT)
    root = api_url.rstrip("/")
    if adapter is not None:
        assert http.session is not None
        # No proxy, netrc or CA bundle applies to an in-process app.
        http.session.trust_env = False
        http.session.mount(root + "/", adapter)
    # Not empty: the Client reads os.environ when its environment is empty.
    client = Client(account_sid, auth_token, http_client=http,
                    environment={"HOIIVR_TWILIO_API_URL": root})
    client.api.base_url = root
    return client

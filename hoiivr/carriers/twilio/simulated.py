"""A ``twilio.rest.Client`` for a Twilio that is not api.twilio.com: hoiivr's simulator
(``hoiivr simulator``, ``Phone``, ``hoiivr dev``) or any Calls API at ``api_url``.

``client.api.base_url`` is where the Calls resource lives (TWIML.md §6); the client is
given an environment of its own, so that ``TWILIO_EDGE`` or ``TWILIO_REGION`` in the
process environment cannot send its requests elsewhere. ``http`` (an
:class:`~hoiivr.carriers.http.HttpSession`, e.g. ``hoiivr.simulator.WSGISession`` around
the simulator's WSGI app) answers them in-process through :class:`SessionHttpClient`;
``adapter`` (a requests transport adapter, e.g. the simulator's ``WSGIAdapter``) does so
through requests.
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

from requests.adapters import BaseAdapter
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from ..http import HttpSession
from .busy import BusyRetry

#: Seconds a Calls request may take.
TIMEOUT = 10.0
FORM, JSON = "application/x-www-form-urlencoded", "application/json"


class SessionHttpClient(HttpClient):  # type: ignore[misc]   # twilio is not typed
    """twilio's HTTP client interface over any :class:`~hoiivr.carriers.http.HttpSession`.

    twilio's own ``TwilioHttpClient`` prepares every request through a requests Session;
    this one hands it to ``session`` as it is (the ``auth`` pair as a Basic
    ``Authorization`` header), so that a ``WSGISession`` answers it with no requests
    machinery in between. A failure is the session's ``requests.RequestException``, as
    with twilio's client. Requests are logged as twilio logs them, at INFO.
    """

    def __init__(self, session: HttpSession, timeout: float | None = TIMEOUT,
                 logger: logging.Logger = logging.getLogger("twilio.http_client")) -> None:
        super().__init__(logger, False, timeout)
        self.session = session

    def request(self, method: str, url: str, params: dict[str, object] | None = None,
                data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                auth: tuple[str, str] | None = None, timeout: float | None = None,
                allow_redirects: bool = False) -> Response:
        sent = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            sent["Authorization"] = f"Basic {pair}"
        body: dict[str, object] | bytes | None = data
        if sent.get("Content-Type", "").startswith(JSON) or \
                sent.get("Content-Type") == "application/scim+json":
            body = json.dumps(data).encode("utf-8")
        if self.logger.isEnabledFor(logging.INFO):
            self.log_request({"method": method.upper(), "url": url, "params": params,
                              "headers": sent})
        reply = self.session.request(method.upper(), url, params=params, data=body,
                                     headers=sent, timeout=timeout or self.timeout,
                                     allow_redirects=allow_redirects)
        if self.logger.isEnabledFor(logging.INFO):
            self.log_response(reply.status_code, reply)
        return Response(int(reply.status_code), reply.text, reply.headers)


def client_for(account_sid: str, auth_token: str, api_url: str,
               adapter: BaseAdapter | None = None, *,
               http: HttpSession | None = None) -> Client:
    """A Client whose requests go to ``api_url`` (through ``http`` or ``adapter`` if given)."""
    http_client: Any = BusyRetry(SessionHttpClient(http) if http is not None else
                                 _requests_client(api_url, adapter))
    root = api_url.rstrip("/")
    # Not empty: the Client reads os.environ when its environment is empty.
    client = Client(account_sid, auth_token, http_client=http_client,
                    environment={"HOIIVR_TWILIO_API_URL": root})
    client.api.base_url = root
    return client


def _requests_client(api_url: str, adapter: BaseAdapter | None) -> TwilioHttpClient:
    http = TwilioHttpClient(timeout=TIMEOUT)
    if adapter is not None:
        assert http.session is not None
        # No proxy, netrc or CA bundle applies to an in-process app.
        http.session.trust_env = False
        http.session.mount(api_url.rstrip("/") + "/", adapter)
    return http

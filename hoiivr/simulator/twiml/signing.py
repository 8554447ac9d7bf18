"""Webhooks signed as Twilio signs them (``../shared/TWIML.md`` §2), without the ``twilio``
package: the simulator must not need the app side's optional extra.

The string signed is the URL Twilio requested, then, for a form POST, each parameter name
followed by its value, names in code-point order and a repeated name's distinct values in
order too. ``X-Twilio-Signature`` is the base64 HMAC-SHA1 of it keyed with the account's
auth token, or HMAC-SHA256 keyed with a SharedKey's secret when the request says so in
``X-Twilio-Webhooks-Signature-Settings``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
HMAC_SHA1, HMAC_SHA256 = "HMAC_SHA1", "HMAC_SHA256"
_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}

Params = Iterable[tuple[str, str]]


def signed_string(url: str, params: Params = ()) -> str:
    """What is signed: ``url``, then every name and value of ``params`` in sorted order
    (ordering the distinct pairs orders names, then each name's distinct values)."""
    return url + "".join(name + value for name, value in sorted(set(params)))


def compute(url: str, params: Params, secret: str, algorithm: str = HMAC_SHA1) -> str:
    """The ``X-Twilio-Signature`` of a request to ``url`` with form ``params``.

    A GET request has its parameters in ``url`` already: give ``params`` empty.
    """
    digest = hmac.new(secret.encode("utf-8"), signed_string(url, params).encode("utf-8"),
                      _HASHES[algorithm]).digest()
    return base64.b64encode(digest).decode("ascii")


def signing_url(url: str) -> str:
    """The URL as Twilio signs it: without ``user:password@``, and over HTTPS without the
    port; plain-HTTP URLs keep theirs (a chosen rule, TWIML.md §2)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if parts.scheme == "https" and parts.port is not None:
        host = host[:host.rindex(":")]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def settings_header(key_id: str) -> str:
    """The ``X-Twilio-Webhooks-Signature-Settings`` of a request signed with SharedKey
    ``key_id``."""
    return f"key={key_id},algorithm={HMAC_SHA256}"

"""``X-Twilio-Signature`` checked as the ``twilio`` package's ``RequestValidator.validate``
checks it (``../shared/TWIML.md`` §2), for a tenth of the CPU.

``validate`` builds the signed string and its HMAC twice for every request (the URL with
its port and without), and finds each parameter's values by trying method names that
raise; per webhook that cost more than the rest of the carrier together. Here the URL as
requested is tried first and the other form only if it misses: the same two URLs, the same
string, the same HMAC, so exactly the same requests pass
(``tests/carriers/test_twilio_signature.py`` holds it to ``validate``), with one
difference: Twilio signs a URL without its ``user:password@`` (TWIML.md §2), which
``validate`` keeps, so here the URL's credentials are left out first. Without that, an app
whose public URL carries them would refuse every genuine webhook.
"""
from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

#: ``X-Twilio-Webhooks-Signature-Settings`` algorithms, as ``hashlib`` names them.
DIGESTS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}


def signed_params(pairs: Iterable[tuple[str, str]]) -> str:
    """What the form adds to the signed string: each name, sorted, followed by each of its
    distinct values, sorted (ordering the distinct pairs orders both at once)."""
    return "".join(name + value for name, value in sorted(set(pairs)))


def signed_urls(url: str) -> Iterator[str]:
    """The URLs Twilio may have signed for ``url``, without its ``user:password@``: as
    requested, then with its port removed or the scheme's default port added
    (``RequestValidator``'s ``remove_port`` and ``add_port``, one of which is the URL as
    requested).

    :raises ValueError: the URL's port is not a number from 0 to 65535.
    """
    parts = urlparse(url)
    port = parts.port             # first: a URL whose port is not one is no URL of Twilio's
    host = parts.netloc.rpartition("@")[2]
    yield parts._replace(netloc=host).geturl()
    if port:
        yield parts._replace(netloc=host[:host.rindex(":")]).geturl()   # [::1]:80 too
    else:
        default = 443 if parts.scheme == "https" else 80
        yield parts._replace(netloc=f"{host}:{default}").geturl()


def without_credentials(url: str) -> str:
    """``url`` without its ``user:password@``, as Twilio signs it (and as a log shows it)."""
    parts = urlparse(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def is_valid(url: str, params: Iterable[tuple[str, str]], signature: str, secret: str,
             digest: str = "sha1") -> bool:
    """Whether ``signature`` is the base64 HMAC (``digest``, keyed with ``secret``) of the
    request to ``url`` with the form's ``(name, value)`` pairs ``params`` (none for a GET:
    its URL holds them)."""
    given = signature.encode("utf-8", "replace")
    key, tail = secret.encode("utf-8"), signed_params(params)
    for candidate in signed_urls(url):
        mac = hmac.digest(key, (candidate + tail).encode("utf-8"), digest)
        if hmac.compare_digest(base64.b64encode(mac), given):
            return True
    return False

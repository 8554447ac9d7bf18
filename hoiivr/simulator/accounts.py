"""Who the simulator knows: accounts, their numbers, and every other phone.

An :class:`Account` is an app's credentials and its money; a :class:`HoiioNumber` belongs
to one account and notifies its ``forward_to`` when called; a :class:`Phone` says how any
other number behaves when dialled or transferred to (answer, busy, unanswered, failed, or
manual: it rings until someone answers or rejects it through the control API).

A :class:`TwilioAccount` (an ``AccountSid`` and its auth token) holds :class:`TwimlNumber`
numbers instead: a call to one requests its ``voice_url`` and runs the TwiML it gets back
(``../shared/TWIML.md``). A number is of one kind at a time. The :class:`Directory` holds
them all; the engine's lock guards it.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from ..protocol import is_e164, is_http_url
from .errors import SimulatorError

#: ``manual``: the phone rings until a person answers or rejects it by hand (the web page,
#: ``POST /sim/calls/<session>/answer``), or it rings out as ``unanswered``.
MANUAL = "manual"
BEHAVIOURS = ("answer", "busy", "unanswered", "failed", MANUAL)
MONEY = Decimal("0.001")
#: Twilio's ids: two letters, then 32 lowercase hex digits (TWIML.md §1).
ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}")
METHODS = ("GET", "POST")


@dataclass
class Account:
    """An app: ``app_id``/``access_token`` and its balance, debited as calls end."""

    app_id: str
    access_token: str
    balance: Decimal
    currency: str = "SGD"
    rate: Decimal = Decimal("0.020")
    #: The account holder's own phone, a valid ``caller_id`` besides the Hoiio Numbers.
    registered_number: str | None = None

    def can_afford_a_minute(self) -> bool:
        return self.balance >= self.rate

    def to_json(self) -> dict[str, Any]:
        return {"app_id": self.app_id, "balance": money(self.balance),
                "currency": self.currency, "rate": money(self.rate),
                "registered_number": self.registered_number}


@dataclass
class HoiioNumber:
    """A Hoiio Number of ``app_id``; incoming calls notify ``forward_to``."""

    number: str
    app_id: str
    forward_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "kind": "hoiio", "app_id": self.app_id,
                "forward_to": self.forward_to}


@dataclass
class TwilioAccount(Account):
    """A Twilio account: ``app_id`` is its ``AccountSid``, ``access_token`` its auth token
    (which signs its webhooks, unless ``shared_key`` = ``(id, secret)`` says to sign them
    with that SharedKey). ``cps``: REST calls leave at most this many a second;
    ``rest_concurrency``: REST requests served at once before 429 (20429)."""

    shared_key: tuple[str, str] | None = None
    cps: float = 1.0
    rest_concurrency: int = 100

    @property
    def sid(self) -> str:
        return self.app_id

    @property
    def auth_token(self) -> str:
        return self.access_token

    def to_json(self) -> dict[str, Any]:
        return {"kind": "twilio", "account_sid": self.sid, "balance": money(self.balance),
                "currency": self.currency, "rate": money(self.rate), "cps": self.cps,
                "rest_concurrency": self.rest_concurrency,
                "shared_key": self.shared_key[0] if self.shared_key else None}


@dataclass
class TwimlNumber:
    """A number of the Twilio account ``account_sid``: a call to it requests ``voice_url``
    with ``voice_method``; ``fallback_url`` when that fails; ``status_callback`` hears how
    the call ended."""

    number: str
    account_sid: str
    voice_url: str | None = None
    voice_method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    #: The IncomingPhoneNumber's sid, ``PN`` and 32 random hex digits.
    sid: str = field(default_factory=lambda: "PN" + secrets.token_hex(16))

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "kind": "twiml", "account_sid": self.account_sid,
                "sid": self.sid,
                "voice_url": self.voice_url, "voice_method": self.voice_method,
                "fallback_url": self.fallback_url, "fallback_method": self.fallback_method,
                "status_callback": self.status_callback,
                "status_callback_method": self.status_callback_method}


@dataclass(frozen=True)
class Phone:
    """How a number behaves when called: ``behaviour``, and once answered how long the
    person talks before hanging up (``talk_seconds``, used when a call is transferred)."""

    behaviour: str = "answer"
    talk_seconds: float = 30.0

    @property
    def manual(self) -> bool:
        """Answered or rejected by a person, through the control API."""
        return self.behaviour == MANUAL

    def rang_out(self) -> Phone:
        """What the phone amounts to once its ring time is over: nobody answered a manual
        phone, so it is unanswered; the others are what they are."""
        return Phone("unanswered", self.talk_seconds) if self.manual else self

    def picked_up(self, answered: bool) -> Phone:
        """A manual phone answered (it then talks for its ``talk_seconds``) or rejected
        (the network says busy, as when a ringing phone is hung up)."""
        return Phone("answer" if answered else "busy", self.talk_seconds)

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "talk_seconds": self.talk_seconds}


def money(amount: Decimal) -> str:
    """An amount as Hoiio writes it: three decimals."""
    return f"{amount.quantize(MONEY):.3f}"


def _decimal(name: str, value: object) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise SimulatorError(f"{name}={value!r} is not an amount; give it like '100.000'")
    return amount


def _account(app_id: str, access_token: str, balance: object, currency: str, rate: object,
             registered_number: str | None) -> Account:
    """An account, its values checked (not yet in any directory)."""
    if not (app_id and isinstance(app_id, str) and access_token
            and isinstance(access_token, str)):
        raise SimulatorError("an account needs an app_id and an access_token, each a "
                             "non-empty string")
    rate_amount = _decimal("rate", rate)
    if rate_amount < 0:
        raise SimulatorError(f"rate={rate!r} must not be negative")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise SimulatorError(f"currency={currency!r} must be a 3-letter code such as 'SGD'")
    if registered_number is not None and not is_e164(registered_number):
        raise SimulatorError(f"registered_number={registered_number!r} must be E.164, "
                             "e.g. '+6591234567'")
    return Account(app_id, access_token, _decimal("balance", balance).quantize(MONEY),
                   currency.upper(), rate_amount.quantize(MONEY), registered_number)


A = TypeVar("A", bound=Account)


def _replaced(accounts: dict[str, A], key: str, account: A) -> A:
    """``account`` in ``accounts``: a new entry, or the values of the entry already there.
    Calls hold their account itself (billed to it, their sessions its own): an account
    added again, say with a new token, must not cut its live calls off."""
    old = accounts.setdefault(key, account)
    if old is not account:
        for name in fields(account):
            setattr(old, name.name, getattr(account, name.name))
    return old


def _rate(value: object) -> float:
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        rate = float("nan")
    if not 0 < rate <= 1000:
        raise SimulatorError(f"cps={value!r} must be a number of calls a second, more than 0 "
                             "and at most 1000")
    return rate


class Directory:
    """Accounts by app id, Hoiio Numbers by number, Twilio accounts by sid and their TwiML
    numbers by number, scripted phones by number."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.numbers: dict[str, HoiioNumber] = {}
        self.twilio_accounts: dict[str, TwilioAccount] = {}
        self.twiml_numbers: dict[str, TwimlNumber] = {}
        self.phones: dict[str, Phone] = {}

    def add_account(self, app_id: str, access_token: str, balance: object = "100.000",
                    currency: str = "SGD", rate: object = "0.020",
                    registered_number: str | None = None) -> Account:
        """Add the account ``app_id``, or give the one there the values given: its calls
        stay its own."""
        account = _account(app_id, access_token, balance, currency, rate, registered_number)
        return _replaced(self.accounts, app_id, account)

    def account(self, app_id: str) -> Account | None:
        return self.accounts.get(app_id)

    def add_number(self, number: str, forward_to: str | None,
                   app_id: str | None = None) -> HoiioNumber:
        """Give account ``app_id`` (default: the first account) the Hoiio Number ``number``."""
        if not is_e164(number):
            raise SimulatorError(f"number={number!r} must be E.164 with its '+' and country "
                                 "code, e.g. '+6560000000'")
        if forward_to is not None and forward_to != "" and not is_http_url(forward_to):
            raise SimulatorError(f"forward_to={forward_to!r} must be an absolute http(s) URL "
                                 "of your app's answer handler")
        if app_id is None:
            if not self.accounts:
                raise SimulatorError("add an account first (add_account / POST /sim/accounts)"
                                     "; a Hoiio Number belongs to an account")
            app_id = next(iter(self.accounts))
        elif app_id not in self.accounts:
            raise SimulatorError(f"there is no account {app_id!r}; add it first or leave "
                                 "app_id out to use the first account")
        entry = HoiioNumber(number, app_id, forward_to or None)
        self.twiml_numbers.pop(number, None)         # a number is of one kind
        self.numbers[number] = entry
        return entry

    def add_twilio_account(self, sid: str | None = None, auth_token: str | None = None, *,
                           balance: object = "100.000", currency: str = "USD",
                           rate: object = "0.014", shared_key: tuple[str, str] | None = None,
                           cps: object = 1.0, rest_concurrency: object = 100) -> TwilioAccount:
        """Add a Twilio account (or give the one there the values given, as
        :meth:`add_account` does); ``sid`` and ``auth_token`` are made up when
        not given (``AC`` + 32 hex digits; 32 hex digits)."""
        sid = sid or "AC" + secrets.token_hex(16)
        if not (isinstance(sid, str) and ACCOUNT_SID.fullmatch(sid)):
            raise SimulatorError(f"account_sid={sid!r} is not a Twilio AccountSid: 'AC' and "
                                 "32 lowercase hex digits, e.g. 'AC' + 32 * '0'")
        if shared_key is not None and not (shared_key[0] and shared_key[1]):
            raise SimulatorError("a SharedKey needs an id and a secret, e.g. KS1=secret")
        plain = _account(sid, auth_token or secrets.token_hex(16), balance, currency, rate,
                         None)
        rate_limit = _rate(cps)
        if not (isinstance(rest_concurrency, int) and 1 <= rest_concurrency <= 10000):
            raise SimulatorError(f"rest_concurrency={rest_concurrency!r} must be a whole "
                                 "number of requests from 1 to 10000")
        account = TwilioAccount(plain.app_id, plain.access_token, plain.balance,
                                plain.currency, plain.rate, None, shared_key, rate_limit,
                                rest_concurrency)
        return _replaced(self.twilio_accounts, sid, account)

    def twilio_account(self, sid: str) -> TwilioAccount | None:
        return self.twilio_accounts.get(sid)

    def add_twiml_number(self, number: str, voice_url: str | None,
                         account_sid: str | None = None, *, voice_method: str = "POST",
                         fallback_url: str | None = None, fallback_method: str = "POST",
                         status_callback: str | None = None,
                         status_callback_method: str = "POST") -> TwimlNumber:
        """Give the Twilio account ``account_sid`` (default: the first) the number
        ``number``, whose calls run the TwiML at ``voice_url``."""
        if not is_e164(number):
            raise SimulatorError(f"number={number!r} must be E.164 with its '+' and country "
                                 "code, e.g. '+6560000000'")
        urls = {"url": voice_url, "fallback_url": fallback_url,
                "status_callback": status_callback}
        for name, url in urls.items():
            if url and not is_http_url(url):
                raise SimulatorError(f"{name}={url!r} must be an absolute http(s) URL of "
                                     "your app")
        methods = {"method": voice_method, "fallback_method": fallback_method,
                   "status_callback_method": status_callback_method}
        for name, method in methods.items():
            if str(method).upper() not in METHODS:
                raise SimulatorError(f"{name}={method!r} must be GET or POST")
        sid = self._twilio_sid(account_sid)
        entry = TwimlNumber(number, sid, voice_url or None, voice_method.upper(),
                            fallback_url or None, fallback_method.upper(),
                            status_callback or None, status_callback_method.upper())
        self.numbers.pop(number, None)               # a number is of one kind
        self.twiml_numbers[number] = entry
        return entry

    def _twilio_sid(self, account_sid: str | None) -> str:
        if account_sid is None:
            if not self.twilio_accounts:
                raise SimulatorError("add a Twilio account first (add_twilio_account / POST "
                                     "/sim/accounts with kind=twilio); a TwiML number "
                                     "belongs to one")
            return next(iter(self.twilio_accounts))
        if account_sid not in self.twilio_accounts:
            raise SimulatorError(f"there is no Twilio account {account_sid!r}; add it first "
                                 "or leave account_sid out to use the first one")
        return account_sid

    def twiml_numbers_of(self, account: TwilioAccount) -> list[TwimlNumber]:
        return [n for n in self.twiml_numbers.values() if n.account_sid == account.sid]

    def numbers_of(self, account: Account) -> list[HoiioNumber]:
        return [n for n in self.numbers.values() if n.app_id == account.app_id]

    def set_phone(self, number: str, behaviour: str = "answer",
                  talk_seconds: object = 30.0) -> Phone:
        """Script the phone ``number``: how it answers and how long it then talks."""
        if not is_e164(number):
            raise SimulatorError(f"phone {number!r} must be E.164, e.g. '+6581234567'")
        if behaviour not in BEHAVIOURS:
            raise SimulatorError(f"behaviour={behaviour!r} must be one of "
                                 f"{', '.join(BEHAVIOURS)}")
        try:
            seconds = float(talk_seconds)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            seconds = float("nan")
        if not 0 <= seconds <= 86400:
            raise SimulatorError(f"talk_seconds={talk_seconds!r} must be a number of seconds "
                                 "from 0 to 86400")
        phone = self.phones[number] = Phone(behaviour, seconds)
        return phone

    def phone(self, number: str) -> Phone:
        """How ``number`` behaves; an unscripted phone answers and talks for 30 s."""
        return self.phones.get(number, Phone())

    def caller_id_allowed(self, account: Account, caller_id: str,
                          own_caller: str | None = None) -> bool:
        """The protocol's caller_id rule: ``private``, the registered number, a Hoiio Number
        of the account, or the session's own caller (``own_caller``)."""
        if caller_id == "private" or caller_id == account.registered_number:
            return True
        if own_caller is not None and caller_id == own_caller:
            return True
        entry = self.numbers.get(caller_id)
        return entry is not None and entry.app_id == account.app_id

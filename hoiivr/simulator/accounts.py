"""Who the simulator knows: accounts, their Hoiio Numbers, and every other phone.

An :class:`Account` is an app's credentials and its money; a :class:`HoiioNumber` belongs
to one account and notifies its ``forward_to`` when called; a :class:`Phone` says how any
other number behaves when dialled or transferred to (answer, busy, unanswered, failed, or
manual: it rings until someone answers or rejects it through the control API).
The :class:`Directory` holds them; the engine's lock guards it.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..protocol import is_e164, is_http_url
from .errors import SimulatorError

#: ``manual``: the phone rings until a person answers or rejects it by hand (the web page,
#: ``POST /sim/calls/<session>/answer``), or it rings out as ``unanswered``.
MANUAL = "manual"
BEHAVIOURS = ("answer", "busy", "unanswered", "failed", MANUAL)
MONEY = Decimal("0.001")


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
        return {"number": self.number, "app_id": self.app_id, "forward_to": self.forward_to}


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


class Directory:
    """Accounts by app id, Hoiio Numbers by number, scripted phones by number."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.numbers: dict[str, HoiioNumber] = {}
        self.phones: dict[str, Phone] = {}

    def add_account(self, app_id: str, access_token: str, balance: object = "100.000",
                    currency: str = "SGD", rate: object = "0.020",
                    registered_number: str | None = None) -> Account:
        """Add (or replace) the account ``app_id``."""
        if not app_id or not access_token:
            raise SimulatorError("an account needs a non-empty app_id and access_token")
        rate_amount = _decimal("rate", rate)
        if rate_amount < 0:
            raise SimulatorError(f"rate={rate!r} must not be negative")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            raise SimulatorError(f"currency={currency!r} must be a 3-letter code such as 'SGD'")
        if registered_number is not None and not is_e164(registered_number):
            raise SimulatorError(f"registered_number={registered_number!r} must be E.164, "
                                 "e.g. '+6591234567'")
        account = Account(app_id, access_token, _decimal("balance", balance).quantize(MONEY),
                          currency.upper(), rate_amount.quantize(MONEY), registered_number)
        self.accounts[app_id] = account
        return account

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
        self.numbers[number] = entry
        return entry

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

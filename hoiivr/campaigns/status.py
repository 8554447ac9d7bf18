"""A campaign's progress as text: counts and a bar, for ``hoiivr campaign status``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """The counts of a campaign's rows and calls (from the store's counts)."""

    total: int = 0
    answered: int = 0
    exhausted: int = 0
    dnc: int = 0
    live: int = 0
    dials: int = 0
    retries: int = 0
    busy: int = 0
    unanswered: int = 0
    failed: int = 0
    lost: int = 0
    refused: int = 0

    @classmethod
    def of(cls, counts: dict[str, int]) -> Progress:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in counts.items() if k in known})

    @property
    def finished(self) -> int:
        """Numbers with nothing left to do: answered, given up, or not to be called."""
        return self.answered + self.exhausted + self.dnc

    @property
    def done(self) -> bool:
        return self.total > 0 and self.finished >= self.total

    def bar(self, width: int = 30) -> str:
        share = self.finished / self.total if self.total else 0.0
        filled = round(share * width)
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.finished}/{self.total} " \
               f"({share:.0%})"

    def lines(self, name: str) -> list[str]:
        waiting = max(0, self.total - self.finished - self.live)
        return [f"campaign {name}: {self.bar()}{'  done' if self.done else ''}",
                f"  answered {self.answered} · gave up {self.exhausted} · do-not-call "
                f"{self.dnc} · live {self.live} · to call {waiting}",
                f"  calls {self.dials}: busy {self.busy} · unanswered {self.unanswered} · "
                f"failed {self.failed} · lost {self.lost} · retries {self.retries} · "
                f"refused by the carrier {self.refused}"]

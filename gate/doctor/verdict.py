"""The doctor's verdict: one check, its status, what was seen and how to fix it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]
STATUS_RANK = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Verdict:
    """One check's outcome: ``fix`` says what to do when ``status`` is not ``ok``."""

    check: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(check: str, detail: str, **data: Any) -> Verdict:
    return Verdict(check, "ok", detail, "", data)


def warn(check: str, detail: str, fix: str, **data: Any) -> Verdict:
    return Verdict(check, "warn", detail, fix, data)


def fail(check: str, detail: str, fix: str, **data: Any) -> Verdict:
    return Verdict(check, "fail", detail, fix, data)


def exit_code(verdicts: Sequence[Verdict]) -> int:
    return 1 if any(v.status == "fail" for v in verdicts) else 0

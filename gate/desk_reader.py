"""The visitor desk's ID-card reader, as the desk sees it: the last card read, handed over once.

The reader thread (``rfid.idcard_reader``) puts each card here; the desk page asks for reads
newer than the one it has (``GET /api/desk/idcard?after=N``) and fills and locks the form.
Each read has a random token: the registration names the token, and the server takes the
name, number and validity from the read it stands for, never from the page, so "read from
chip" on a visit means the chip said so. A read is good for ``TTL_S`` and for one
registration.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rfid.idcard import IdCard
from rfid.idcard_reader import IdCardRead

TTL_S = 5 * 60  # past this a read is stale: the visitor lays the card on the reader again


@dataclass(frozen=True)
class DeskRead:
    seq: int
    token: str
    card: IdCard
    at: dt.datetime  # site time of the read


class DeskCards:
    """Reads from the reader thread in, the console out; one leaf lock, held for dict work."""

    def __init__(self, now: Callable[[], dt.datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._seq = 0
        self._reads: dict[str, DeskRead] = {}
        self._latest: DeskRead | None = None

    def on_read(self, read: IdCardRead) -> None:
        at = self._now()
        with self._lock:
            self._seq += 1
            desk_read = DeskRead(self._seq, secrets.token_urlsafe(16), read.card, at)
            self._reads = {k: r for k, r in self._reads.items()
                           if (at - r.at).total_seconds() < TTL_S}
            self._reads[desk_read.token] = desk_read
            self._latest = desk_read

    def latest(self, after: int) -> dict[str, Any] | None:
        """The newest read if it is newer than ``after`` and still good, as the page shows it:
        the fields, whether the card has expired (site date), and the token."""
        with self._lock:
            read = self._latest
        if read is None or read.seq <= after:
            return None
        if (self._now() - read.at).total_seconds() >= TTL_S:
            return None
        card = read.card
        return {"seq": read.seq, "token": read.token, "fields": card.fields(),
                "expired": card.expired(self._now().date()), "read_at": read.at.isoformat()}

    def spend(self, token: str) -> None:
        """A visit was registered with this read: it is no longer offered or accepted."""
        with self._lock:
            read = self._reads.pop(token, None)
            if read is not None and self._latest is read:
                self._latest = None

    def card(self, token: str) -> IdCard | None:
        """The card of a read; None when the token is unknown or too old."""
        with self._lock:
            read = self._reads.get(token)
        if read is None or (self._now() - read.at).total_seconds() >= TTL_S:
            return None
        return read.card

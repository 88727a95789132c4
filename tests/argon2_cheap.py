"""Real argon2id at the lowest cost, for tests about throttling and routes, not hashing.

The production parameters (64 MiB, 3 passes) cost a quarter second per login on a loaded
2-core machine; these tests log in dozens of times.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

import gate.console.auth as auth


def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", hasher)
    monkeypatch.setattr(auth, "_DUMMY", hasher.hash("not a real password, only for timing"))

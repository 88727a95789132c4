"""Who looked at a person's data, when, and why (issue 26): the access report an admin
reads in the console and ``gate people access-report PERSON_ID`` prints.

It is read from the audit log, which records deliberate acts (gate/evidence_views.py):
rows about the person (their page opened, an export, an erasure, an exit permission, a
face enrolled), snapshots of them opened full size, and list views (the review, the live
page as it opened) that showed them. The log outlives an erasure, so the report of an
erased pupil still answers who looked before.
"""

from __future__ import annotations

import json
from typing import Any

from gate.store import Store

# What each kind of row says about why: the reason a person gave, else where they were.
_WHY_KEYS = ("reason", "note", "page")


def access_report(store: Store, person_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Newest first: ``ts``, ``actor``, ``action``, ``target`` (what was opened: the person,
    a snapshot id, a page), ``why`` (a stated reason or the page it was seen on) and the
    row's ``details``."""
    rows = store.query(
        "SELECT id, ts, actor, action, target, details FROM audit_log WHERE target = ?"
        " OR (action = 'snapshot_viewed' AND json_extract(details, '$.person_id') = ?)"
        " OR (action = 'list_viewed' AND EXISTS (SELECT 1 FROM json_each(details, '$.people')"
        " WHERE value = ?)) ORDER BY id DESC LIMIT ?",
        (person_id, person_id, person_id, max(1, min(limit, 10_000))))
    out = []
    for r in rows:
        details = json.loads(r["details"] or "{}")
        why = next((str(details[k]) for k in _WHY_KEYS if details.get(k)), "")
        out.append({"ts": r["ts"], "actor": r["actor"], "action": r["action"],
                    "target": r["target"], "why": why, "details": details})
    return out

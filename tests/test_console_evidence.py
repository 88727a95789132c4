# ruff: noqa: F811  (pytest fixtures imported from tests/test_console_routes.py)
"""Evidence on the console's API: snapshots only with a session, every view audited;
the review filter; a person's passages (audited); retention status; erasure by an admin."""

from __future__ import annotations

import base64
import json
import time

import cv2
import numpy as np
from fastapi.testclient import TestClient

from gate.journal import Entry
from gate.records import Event, Person
from gate.service import Service
from gate.snapshots import Shot, SnapshotJob
from tests.test_console_routes import client, log_in, service  # noqa: F401  (fixtures)

ERASED = "person_erased"


def _jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((60, 80, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def _passage_with_snapshot(svc: Service, person: str) -> str:
    svc.store.upsert_person(Person(person, "Li Lei", face_consent=True))
    event = Event(type="arrival", ts=svc.store.now(), lane="L1", person_id=person,
                  decision="open", method="card+face")
    event = Event(**{**event.__dict__, "snapshot": event.id})
    job = SnapshotJob(event.id, event.ts.isoformat(), "L1", person,
                      Shot(_jpeg(), _jpeg(), "gate-cam", "face", time.monotonic()))
    svc.journal.record(Entry(event=event, writes=(svc.snapshots.index(job),)))
    svc.snapshots.snapshots.write_files(job)
    return event.id


def test_a_snapshot_opened_is_one_audit_row_and_thumbnails_add_none(
        client: TestClient, service: Service) -> None:
    sid = _passage_with_snapshot(service, "S1")
    assert client.get(f"/api/snapshots/{sid}").status_code == 401
    assert client.get(f"/api/snapshots/{sid}/thumb").status_code == 401
    log_in(client, "guard")
    before = _audit_rows(service)
    r = client.get(f"/api/snapshots/{sid}")  # the overlay: scene and close-up, one answer
    assert r.status_code == 200 and "no-store" in r.headers["cache-control"]
    pictures = r.json()["pictures"]
    assert sorted(pictures) == ["crop", "scene"]
    assert base64.b64decode(pictures["crop"].split(",", 1)[1])[:2] == b"\xff\xd8"
    assert _audit_rows(service) == before + 1  # exactly one row for one act
    for _ in range(5):  # a list's thumbnails, however often drawn: no row
        t = client.get(f"/api/snapshots/{sid}/thumb")
        assert t.status_code == 200 and t.headers["content-type"] == "image/jpeg"
        assert t.content[:2] == b"\xff\xd8"
    assert _audit_rows(service) == before + 1
    assert client.get("/api/snapshots/nope").status_code == 404
    assert client.get("/api/snapshots/nope/thumb").status_code == 404
    views = service.store.query("SELECT actor, target, details FROM audit_log WHERE"
                                " action = 'snapshot_viewed'")
    assert [(v["actor"], v["target"]) for v in views] == [("guard", sid)]
    assert json.loads(views[0]["details"]) == {"parts": ["crop", "scene"], "person_id": "S1"}


def _audit_rows(service: Service) -> int:
    return int(service.store.query("SELECT COUNT(*) FROM audit_log")[0][0])


def test_review_filters_and_person_passages(client: TestClient,
                                            service: Service) -> None:
    sid = _passage_with_snapshot(service, "S1")
    _passage_with_snapshot(service, "S2")
    log_in(client, "guard")
    rows = client.get("/api/review", params={"person": "S1", "with_snapshot": True}).json()
    assert [r["id"] for r in rows] == [sid] and rows[0]["snapshot"] == sid
    assert client.get("/api/review", params={"lane": "L9"}).json() == []
    listed, other = service.store.query("SELECT actor, target, details FROM audit_log WHERE"
                                        " action = 'list_viewed' ORDER BY id")  # one a page
    assert json.loads(other["details"])["people"] == []
    assert (listed["actor"], listed["target"]) == ("guard", "review")
    assert json.loads(listed["details"]) == {
        "page": "review", "people": ["S1"], "rows": 1, "snapshots": 1,
        "query": {"person": "S1", "with_snapshot": True}}
    before = _audit_rows(service)
    assert client.get("/api/people/S1").status_code == 200  # the page view: audited once
    mine = client.get("/api/people/S1/passages").json()  # ... which covers its passages
    assert [r["id"] for r in mine] == [sid]
    assert _audit_rows(service) == before + 1
    assert service.store.query("SELECT COUNT(*) FROM audit_log WHERE action ="
                               " 'person_viewed' AND target = 'S1'")[0][0] == 1


def test_retention_and_erasure_are_for_admins(client: TestClient,
                                              service: Service) -> None:
    sid = _passage_with_snapshot(service, "S1")
    h = log_in(client, "guard")
    assert client.get("/api/privacy").status_code == 403
    assert client.post("/api/people/S1/erase", json={"reason": "parent asked"},
                       headers=h).status_code == 403
    client.post("/api/logout", headers=h)
    h = log_in(client, "admin")
    status = client.get("/api/privacy").json()
    assert {"events", "snapshots"} <= {r["class"] for r in status["retention"]}
    r = client.post("/api/people/S1/erase", json={"reason": "parent asked"}, headers=h)
    assert r.status_code == 200, r.text
    assert service.store.get_person("S1") is None
    assert client.get(f"/api/snapshots/{sid}").status_code == 404
    kept = service.store.query("SELECT person_id FROM events WHERE id = ?", (sid,))
    assert kept and kept[0][0] is None  # the passage stays, without identity
    audit = client.get("/api/audit/search", params={"target": "S1"}).json()
    erased = [a for a in audit if a["action"] == ERASED]
    assert erased and erased[0]["actor"] == "admin"
    assert any(a["action"] == "erasure_reason" for a in audit)

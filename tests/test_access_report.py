"""The access report per person (issue 26, item 2): who looked at this child's data, when
and why, from the audit of deliberate acts; and ``gate people access-report`` (+ ``--json``).
Real SQLite, the real journal and snapshot store, the real CLI in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from gate.access_report import access_report
from gate.config import parse_config
from gate.evidence_views import Review, list_viewed, open_snapshot, person_viewed, review_events
from gate.journal import AuditRow, Entry, Journal
from gate.privacy import erase_person, export_person
from gate.snapshots import Shot, SnapshotJob, SnapshotStore, SnapshotWriter
from tests.conftest import run_gate
from tests.test_privacy import NOW, _event, config_file, jpeg, keyed, open_store, seed_person


def _gate(tmp_path: Path) -> tuple[Path, Path, Journal, SnapshotWriter]:
    data, key = tmp_path / "data", keyed(tmp_path)
    store = open_store(data, key)
    journal = Journal(parse_config({"data_dir": str(data)}), store)
    writer = SnapshotWriter(SnapshotStore(store))
    for i, pid in enumerate(("ann", "bo")):
        seed_person(store, pid, i + 1)
        store.record_event(_event(NOW, pid, snapshot=f"{pid}-0"))
        writer.snapshots.write(SnapshotJob(f"{pid}-0", NOW.isoformat(), "L1", pid,
                                           Shot(jpeg(i), jpeg(i + 5), "gate-cam", "face",
                                                0.0)))
    return data, key, journal, writer


def test_the_report_lists_deliberate_acts_on_that_person_only(tmp_path: Path) -> None:
    data, key, journal, writer = _gate(tmp_path)
    store = journal.store
    list_viewed(journal, "guard-li", "review", review_events(store, Review()), {"lane": "L1"})
    assert open_snapshot(journal, writer, "ann-0", "guard-li") is not None
    assert open_snapshot(journal, writer, "bo-0", "guard-wu") is not None
    person_viewed(journal, "bo", "guard-wu")
    journal.record(Entry(audit=(AuditRow("admin", "exit_permission", "ann",
                                         {"minutes": 30, "reason": "dentist"}),)))
    ann = access_report(store, "ann")
    assert [(r["actor"], r["action"], r["target"], r["why"]) for r in ann] == [
        ("admin", "exit_permission", "ann", "dentist"),
        ("guard-li", "snapshot_viewed", "ann-0", ""),
        ("guard-li", "list_viewed", "review", "review")]
    assert ann[2]["details"]["people"] == ["ann", "bo"]
    assert {r["target"] for r in access_report(store, "bo")} == {"bo", "bo-0", "review"}
    assert access_report(store, "nobody") == []
    # the subject's own copy says who looked, and the report outlives an erasure
    doc = json.loads(export_person(journal, writer.snapshots, "ann", tmp_path / "out",
                                   "admin").read_text())
    assert [a["action"] for a in doc["accesses"]] == ["list_viewed", "snapshot_viewed",
                                                      "exit_permission"]
    erase_person(journal, writer.snapshots, "ann", "admin")
    after = [r["action"] for r in access_report(store, "ann")]
    assert after[:2] == ["person_erased", "person_exported"] and "snapshot_viewed" in after
    store.close()
    # the command line: words, and one JSON object per line
    cfg = str(config_file(tmp_path, data, key))
    text = run_gate("--config", cfg, "people", "access-report", "ann")
    assert text.returncode == 0, text.stderr
    assert "guard-li" in text.stdout and "snapshot_viewed" in text.stdout
    assert "dentist" in text.stdout
    lines = run_gate("--config", cfg, "people", "access-report", "ann", "--json")
    assert lines.returncode == 0, lines.stderr
    rows = [json.loads(x) for x in lines.stdout.splitlines()]
    assert [r["action"] for r in rows][-3:] == ["exit_permission", "snapshot_viewed",
                                                "list_viewed"]
    none = run_gate("--config", cfg, "people", "access-report", "carl")
    assert none.returncode == 0 and "nobody has opened" in none.stdout

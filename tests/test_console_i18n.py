"""Words, not codes: the console's one catalogue (gate/console/static/i18n.json) has zh-CN
and English words for every code the gate can show, and for every key the page asks for.

The codes are read from where they are defined, so a new event type, reason, visitor state,
server error or form field without words fails here, not in front of a guard.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel

from gate.console import schemas
from gate.console.errors import ERROR_CODES
from gate.vocab import (
    AlertType,
    Direction,
    EventType,
    Method,
    Severity,
    Verdict,
    VisitorState,
)
from tests.conftest import ROOT

STATIC = ROOT / "gate" / "console" / "static"
CATALOGUE = json.loads((STATIC / "i18n.json").read_text(encoding="utf-8"))
LANGS = ("zh-CN", "en")
ENUMS: dict[str, type[StrEnum]] = {"event": EventType, "verdict": Verdict, "method": Method,
                                   "severity": Severity, "alert": AlertType,
                                   "visitor": VisitorState, "direction": Direction}


def missing(keys: set[str], catalogue: dict[str, Any] = CATALOGUE) -> dict[str, list[str]]:
    return {lang: sorted(k for k in keys if k not in catalogue[lang]) for lang in LANGS
            if any(k not in catalogue[lang] for k in keys)}


def rule_reasons() -> set[str]:
    """Every reason the rules, the engine, the journal and the attendance job can write."""
    reasons: set[str] = set()
    for name in ("rules.py", "engine.py", "attendance.py", "journal.py"):
        text = (ROOT / "gate" / name).read_text(encoding="utf-8")
        reasons |= set(re.findall(r'Verdict\.\w+,\s*"([a-z_]+)"', text))
        reasons |= set(re.findall(r'_deny\(d,\s*"([a-z_]+)"\)', text))
        reasons |= set(re.findall(r'd\.reason = "([a-z_]+)"', text))
        reasons |= set(re.findall(r'reason="([a-z_]+)"', text))
        if 'f"unknown_{what}"' in text:  # rules.unknown_card: a card or a pass code
            reasons |= {"unknown_card", "unknown_code"}
        if 'f"visitor_{f.status}"' in text:
            reasons |= {f"visitor_{s}" for s in VisitorState}
    return reasons


def test_the_scan_finds_the_reasons_it_must() -> None:
    """The scan itself could silently find nothing; it must find these at least."""
    found = rule_reasons()
    for reason in ("valid_card", "card_face_mismatch", "anti_passback", "late", "unknown_card",
                   "pass_expired", "visitor_checked_out", "not_arrived_by_cutoff",
                   "fire_reset", "registered_vehicle", "face_not_live"):
        assert reason in found
    assert len(found) >= 25


@pytest.mark.parametrize("ns", sorted(ENUMS))
def test_every_code_of_the_vocabulary_has_words(ns: str) -> None:
    assert missing({f"{ns}.{v}" for v in ENUMS[ns]}) == {}


def test_every_reason_has_words() -> None:
    assert missing({f"reason.{r}" for r in rule_reasons()}) == {}


def test_every_server_error_and_field_has_words() -> None:
    assert missing({f"error.{c}" for c in ERROR_CODES}) == {}
    bodies = [m for m in vars(schemas).values() if isinstance(m, type)
              and issubclass(m, BaseModel) and m.__module__ == schemas.__name__]
    assert len(bodies) >= 10
    assert missing({f"field.{f}" for m in bodies for f in m.model_fields}) == {}


def test_the_error_codes_raised_are_listed() -> None:
    """A ``code="..."`` at a raise site that ERROR_CODES does not list would reach the page
    without words."""
    raised: set[str] = set()
    for path in (ROOT / "gate" / "console").rglob("*.py"):
        raised |= set(re.findall(r'code="([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert raised and raised <= ERROR_CODES


def page_keys() -> set[str]:
    keys: set[str] = set()
    for path in STATIC.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r'\bt\("([\w.+-]+)"', text))
        keys |= set(re.findall(r'"(ui\.[a-z_]+)"', text))
        # word("ns", "code") with a literal code, and t(`ui.${n}`) over a literal list
        keys |= {f"{ns}.{code}" for ns, code in re.findall(r'word\("(\w+)", "([\w+-]+)"\)', text)}
        for names in re.findall(r'const names = \[([^\]]+)\];\s*return [^;]*t\(`ui\.\$\{n\}`\)',
                                text):
            keys |= {f"ui.{n}" for n in re.findall(r'"(\w+)"', names)}
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    keys |= set(re.findall(r'data-i18n(?:-placeholder|-label)?="([^"]+)"', html))
    return keys


def test_every_key_the_page_asks_for_has_words() -> None:
    keys = page_keys()
    assert "ui.step_document" in keys and "ui.manual_open" in keys and len(keys) > 150
    assert missing(keys) == {}


def test_the_languages_have_the_same_keys_and_no_empty_words() -> None:
    zh, en = CATALOGUE["zh-CN"], CATALOGUE["en"]
    assert set(zh) == set(en)
    assert [k for k in zh if not zh[k].strip() or not en[k].strip()] == []
    # placeholders agree: "{n} alerts" in one language is "{n} 条" in the other
    assert [k for k in zh if set(re.findall(r"\{\w+\}", zh[k]))
            != set(re.findall(r"\{\w+\}", en[k]))] == []


def test_a_missing_key_is_caught() -> None:
    """The check above is not vacuous: a catalogue without one word fails it."""
    broken = {lang: dict(words) for lang, words in CATALOGUE.items() if lang in LANGS}
    del broken["en"]["alert.tailgating"]
    assert missing({f"alert.{v}" for v in AlertType}, broken) == {"en": ["alert.tailgating"]}


def audit_actions() -> set[str]:
    """Every action the gate writes to its audit log: ``AuditRow(actor, "x", ...)`` and
    ``store.audit(actor, "x", ...)``, the console's login attempts, and the names built at
    run time (the hub keeps its own log: its actions are not the console's)."""
    actions: set[str] = set()
    for path in (ROOT / "gate").rglob("*.py"):
        if "hub" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text(encoding="utf-8")
        actions |= set(re.findall(r'(?:AuditRow|\.audit)\(\s*[^,()]+,\s*"([a-z_]+)"', text))
        actions |= set(re.findall(r'_attempt\([^)]*"([a-z_]+)"\)', text))
        if 'f"watchlist_local_{what}_removed"' in text:
            actions |= {"watchlist_local_person_removed", "watchlist_local_plate_removed"}
    return actions


def test_every_audit_action_has_words() -> None:
    """The audit page shows actions in the admin's language (issue 15, item 5)."""
    found = audit_actions()
    for action in ("login", "login_failed", "manual_open", "alert_acknowledged",
                   "face_enrolled", "person_erased", "person_exported", "snapshot_viewed",
                   "keys_init"):
        assert action in found
    assert missing({f"audit.{a}" for a in found}) == {}


def test_every_data_class_has_words() -> None:
    from gate.privacy import CLASSES

    assert missing({f"data.{c}" for c in CLASSES}) == {}
    js = (STATIC / "evidence.js").read_text(encoding="utf-8")
    assert set(re.findall(r'(\w+): "data\.\1"', js)) == set(CLASSES)


def test_every_watch_match_word_has_words() -> None:
    """A watch-list hit says how close it is in words (issue 26, item 4)."""
    from gate.rules import watch_match

    found = {watch_match(d / 100, 0.5) for d in range(0, 51)}
    assert found == {"very_close", "close", "borderline"}
    assert missing({f"match.{w}" for w in found}) == {}

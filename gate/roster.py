"""Roster CSV import: people, cards, guardians and (with consent) face photos.

Schools export rosters from spreadsheets, with mistakes. A bad row must never
stop the good ones: it is rejected with its line number and reason, and the
import is idempotent, so the admin fixes the file and runs it again.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from gate.records import Guardian, Person, Role
from gate.store import CardConflict, Change, Store
from rfid.cards import CardNumberError, registry_key

COLUMNS = ("person_id", "name", "role", "class", "card_uid", "photo", "face_consent",
           "guardian_id", "guardian_name", "guardian_phone")
REQUIRED = ("person_id", "name")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
_YES = {"yes", "y", "true", "1", "是"}
_NO = {"no", "n", "false", "0", "否", ""}
BATCH = 200


class RosterError(Exception):
    """The file as a whole cannot be read as a roster (missing columns, not CSV)."""


@dataclass(frozen=True)
class RosterRow:
    line: int
    person: Person
    card_key: str | None = None
    photo: Path | None = None
    guardian: Guardian | None = None


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


EnrolOutcome = Literal["enrolled", "unchanged", "not-enrolled", "refused"]


@dataclass(frozen=True)
class EnrolResult:
    outcome: EnrolOutcome
    reason: str = ""
    warning: str = ""
    quality: str = ""  # the photo's enrolment-quality verdict: ok | warn | reject ("" unchecked)
    worker_failed: bool = False  # no verdict: the photo worker crashed or timed out on it
    match: tuple[str, float] | None = None  # another enrolled person this face matches


class Enroller(Protocol):
    """Turns an enrolment photo into a stored face encoding (the faces module provides one)."""

    def enrol(self, person_id: str, photo: Path) -> EnrolResult: ...


@dataclass
class ImportSummary:
    people: Counter[Change] = field(default_factory=Counter)
    guardians: Counter[Change] = field(default_factory=Counter)
    cards: Counter[Change] = field(default_factory=Counter)
    photos: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[Rejected] = field(default_factory=list)
    # per photo checked: line, person, photo, verdict (ok | warn | reject) and the reason
    quality: list[dict[str, str | int]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(c["added"] + c["updated"] for c in (self.people, self.guardians, self.cards)) \
            + self.photos["enrolled"]


def _flag(value: str) -> bool:
    v = value.strip().lower()
    if v in _YES:
        return True
    if v in _NO:
        return False
    raise ValueError(f"face_consent must be yes or no, not {value!r}")


def parse_row(line: int, row: dict[str, str], base: Path) -> RosterRow:
    """Validate one CSV row; raises ValueError with the reason."""
    get = {k: (row.get(k) or "").strip() for k in COLUMNS}
    if not get["person_id"]:
        raise ValueError("person_id is empty")
    if not _ID.match(get["person_id"]):
        raise ValueError(f"person_id {get['person_id']!r} may only use letters, digits, _ . -")
    if not get["name"]:
        raise ValueError("name is empty")
    if len(get["name"]) > 100:
        raise ValueError("name is longer than 100 characters")
    role = get["role"].lower() or "student"
    if role not in ("student", "staff"):
        raise ValueError(f"role must be student or staff, not {get['role']!r}")
    consent = _flag(get["face_consent"])
    person = Person(id=get["person_id"], name=get["name"], role=_role(role),
                    class_name=get["class"], face_consent=consent)
    card_key = None
    if get["card_uid"]:
        try:
            card_key = registry_key(get["card_uid"])
        except CardNumberError as exc:
            raise ValueError(f"card_uid: {exc}") from None
    photo = None
    if get["photo"]:
        photo = Path(get["photo"])
        photo = photo if photo.is_absolute() else base / photo
        if consent and not photo.is_file():
            raise ValueError(f"photo {get['photo']!r} not found")
    guardian = None
    if get["guardian_id"]:
        if not _ID.match(get["guardian_id"]):
            raise ValueError(f"guardian_id {get['guardian_id']!r} may only use letters, digits,"
                             " _ . -")
        if get["guardian_phone"] and not _PHONE.match(get["guardian_phone"]):
            raise ValueError(f"guardian_phone {get['guardian_phone']!r} is not a phone number")
        guardian = Guardian(get["guardian_id"], get["guardian_name"], get["guardian_phone"])
    elif get["guardian_name"] or get["guardian_phone"]:
        raise ValueError("guardian_name/guardian_phone given without guardian_id")
    return RosterRow(line, person, card_key, photo, guardian)


def _role(value: str) -> Role:
    return "staff" if value == "staff" else "student"


def read_roster(path: Path) -> Iterator[RosterRow | Rejected]:
    """Yield each data row of the CSV, parsed or rejected, with its line number."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise RosterError(f"{path}: cannot read ({exc.strerror})") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (csv.Error, UnicodeDecodeError) as exc:
            raise RosterError(f"{path}: not a CSV file ({exc})") from None
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise RosterError(f"{path}: header lacks column(s) {', '.join(missing)}"
                              f" (columns: {', '.join(COLUMNS)})")
        unknown = [c for c in header if c not in COLUMNS]
        if unknown:
            raise RosterError(f"{path}: unknown column(s) {', '.join(unknown)}"
                              f" (columns: {', '.join(COLUMNS)})")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                yield Rejected(reader.line_num, f"unreadable CSV line: {exc}")
                return
            if None in row:
                yield Rejected(reader.line_num, "more fields than the header has")
                continue
            try:
                yield parse_row(reader.line_num, row, path.parent)
            except ValueError as exc:
                yield Rejected(reader.line_num, str(exc))


def import_roster(
    store: Store,
    path: Path,
    enroller: Enroller | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Upsert every good row; a second run of the same file changes nothing."""
    summary = ImportSummary()
    first_line: dict[str, RosterRow] = {}
    items = list(read_roster(path))
    for start in range(0, len(items), BATCH):
        photos: list[RosterRow] = []
        with store.transaction():  # one fsync per batch, not per row
            for item in items[start:start + BATCH]:
                if isinstance(item, Rejected):
                    summary.rejected.append(item)
                elif _apply_row(store, item, first_line, summary) and item.photo:
                    photos.append(item)
        # Encoding is slow: done outside the batch so the running service never waits on it.
        for row in photos:
            _enrol_photo(row, enroller, summary)
        if progress:
            progress(min(BATCH, len(items) - start))
    summary.rejected.sort(key=lambda r: r.line)
    return summary


def _apply_row(store: Store, row: RosterRow, first_line: dict[str, RosterRow],
               summary: ImportSummary) -> bool:
    earlier = first_line.get(row.person.id)
    if earlier is not None and earlier.person != row.person:
        summary.rejected.append(Rejected(
            row.line, f"{row.person.id}: name/role/class/consent differ from line {earlier.line}"))
        return False
    try:
        with store.transaction():  # a savepoint: a rejected row leaves nothing behind
            person = store.upsert_person(row.person) if earlier is None else None
            guardian = store.upsert_guardian(row.guardian, row.person.id) if row.guardian else None
            card = store.assign_card(row.card_key, row.person.id) if row.card_key else None
    except CardConflict as exc:
        summary.rejected.append(Rejected(row.line, str(exc)))
        return False
    if person:
        first_line[row.person.id] = row
        summary.people[person] += 1
    if guardian:
        summary.guardians[guardian] += 1
    if card:
        summary.cards[card] += 1
    return True


def _enrol_photo(row: RosterRow, enroller: Enroller | None, summary: ImportSummary) -> None:
    assert row.photo is not None
    if not row.person.face_consent:
        summary.photos["no-consent"] += 1
        return
    if enroller is None:
        summary.photos["not-enrolled"] += 1
        summary.warnings.append(Rejected(row.line, "photo not enrolled: face enrolment is off"))
        return
    result = enroller.enrol(row.person.id, row.photo)
    summary.photos[result.outcome] += 1
    if result.outcome in ("not-enrolled", "refused"):
        summary.rejected.append(Rejected(row.line, f"photo {row.photo.name}: {result.reason}"))
    if result.warning:
        summary.warnings.append(Rejected(row.line, f"photo {row.photo.name}: {result.warning}"))
    if result.quality:
        summary.quality.append({"line": row.line, "person_id": row.person.id,
                                "photo": row.photo.name, "verdict": result.quality,
                                "reason": result.reason or result.warning})

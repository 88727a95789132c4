"""Watch-list payload validation (pure): a bad payload is rejected whole, with the reason."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gate.store import Store
from gate.watchlist import WatchlistError, apply_watchlist, parse_payload
from recognition.photo_jobs import InProcess


def _payload(**persons: object) -> bytes:
    return json.dumps({"schema": "campus-gate/watchlist/1", "list": "police",
                       "persons": [{"id": "P1", "name": "x", **persons}]}).encode()


@pytest.mark.parametrize(("raw", "why"), [
    (b"\xff\xfe", "not JSON"),
    (b"[]", "Input should be"),
    (json.dumps({"schema": "other/1", "list": "police"}).encode(), "schema"),
    (_payload(encodings=[[0.1] * 3]), "encodings"),
    (_payload(unknown=1), "unknown"),
])
def test_malformed_payloads_are_rejected(raw: bytes, why: str) -> None:
    with pytest.raises(WatchlistError) as exc:
        parse_payload(raw)
    assert why in str(exc.value)


def test_a_bad_photo_rejects_the_whole_list(store: Store, tmp_path: Path) -> None:
    for photo in ("照片", "not base64!", "aGVsbG8="):  # non-ASCII, not base64, not an image
        payload = parse_payload(_payload(photos=[photo]))
        with pytest.raises(WatchlistError, match="photos"):
            apply_watchlist(store, payload, "test", InProcess(_NoFaces()))
    assert store.count("watchlists") == 0


class _NoFaces:
    name, dimensions = "none", 128

    def detect(self, *_a: object, **_k: object) -> list[tuple[int, int, int, int]]:
        return []

    def encode(self, *_a: object, **_k: object) -> object:
        raise AssertionError("no face to encode")


def test_listed_photos_are_kept_sealed_and_go_with_their_entry(tmp_path: Path) -> None:
    """The photo a list was published with is kept for the guard's comparison (issue 26,
    item 4), encrypted like every face, and replaced with the list."""
    from gate.bench.scenes import FACES
    from gate.crypto import CryptoError
    from gate.privacy import keys_in_use
    from gate.watchlist import listed_photos
    from recognition.face_engine import DlibFaceEngine
    from tests.test_privacy import chunks, disk_bytes, keyed, open_store

    data = tmp_path / "data"
    store = open_store(data, keyed(tmp_path))
    photo = (FACES / "train/obama/obama2.jpg").read_bytes()
    listing = {"schema": "campus-gate/watchlist/1", "list": "police", "persons": [
        {"id": "P1", "name": "x", "reason": "order",
         "photos": [base64.b64encode(photo).decode()]}]}
    apply_watchlist(store, parse_payload(json.dumps(listing).encode()), "test",
                    InProcess(DlibFaceEngine()))
    assert listed_photos(store, "police", "P1") == [photo]
    assert listed_photos(store, "police", "P2") == []
    on_disk = disk_bytes(data)
    assert not any(c in on_disk for c in chunks(photo, 64)[:20]), "plain photo on disk"
    assert store.sealer.keys is not None and store.sealer.keys.current in keys_in_use(store)
    # a photo moved onto another entry does not open (the entry is its associated data)
    store.query("UPDATE watchlist_persons SET entry_id = 'P9' WHERE entry_id = 'P1'")
    with pytest.raises(CryptoError):
        listed_photos(store, "police", "P9")
    # the list replaced without that person: the photo goes with the entry
    apply_watchlist(store, parse_payload(json.dumps({**listing, "persons": []}).encode()),
                    "test", None)
    assert store.count("watchlist_photos") == 0
    store.close()

"""Watch-list payload validation (pure): a bad payload is rejected whole, with the reason."""

from __future__ import annotations

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

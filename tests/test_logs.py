"""Journal lines: one line per event, ids as key=value fields, nothing outside the allow-list."""

from __future__ import annotations

import logging

import pytest

from gate.logs import JournalFormatter, fields_of, log_fields, one_line


def _record(msg: str, level: int = logging.INFO, exc: bool = False,
            **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("gate.engine")
    exc_info = None
    if exc:
        try:
            raise RuntimeError("relay board gone")
        except RuntimeError:
            import sys
            exc_info = sys.exc_info()
    return logger.makeRecord("gate.engine", level, __file__, 1, msg, (), exc_info,
                             extra=extra)


def test_ids_become_fields_in_fixed_order_with_priority_prefix() -> None:
    rec = _record("decision denied", logging.WARNING,
                  **log_fields(card="6200000001", lane="L1", reader="L1-in",
                               event="e-1", reason="unknown card"))
    line = JournalFormatter().format(rec)
    assert line == ('<4>gate.engine: decision denied lane=L1 reader=L1-in event=e-1 '
                    'card=6200000001 reason="unknown card"')
    assert fields_of(rec)["card"] == "6200000001"


def test_tracebacks_and_newlines_stay_on_one_line() -> None:
    rec = _record("relay failed\nsecond line", logging.ERROR, exc=True,
                  **log_fields(lane="L2"))
    line = JournalFormatter().format(rec)
    assert "\n" not in line
    assert line.startswith("<3>gate.engine: relay failed | second line | Traceback")
    assert "RuntimeError: relay board gone" in line
    assert line.endswith("lane=L2")


def test_field_values_cannot_break_the_line() -> None:
    rec = _record("x", **log_fields(reason='a "quoted"\nvalue'))
    line = JournalFormatter(priority_prefix=False).format(rec)
    assert line == 'gate.engine: x reason="a \\"quoted\\"\\nvalue"'


def test_personal_data_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        log_fields(lane="L1", name="Li Hua")
    with pytest.raises(ValueError, match="face"):
        log_fields(face=b"...")


def test_none_values_are_left_out() -> None:
    rec = _record("tap", **log_fields(lane="L1", camera=None))
    assert JournalFormatter().format(rec) == "<6>gate.engine: tap lane=L1"


def test_one_line_drops_blank_lines() -> None:
    assert one_line("a\n\n  \nb") == "a | b"

"""Logs for journald: one event per line, ``key=value`` ids that ``journalctl -g`` can find.

An installer asks "why did the gate not open for this card?" with
``journalctl -u gate -g 'card=6200000001'``; that works only if every record is one line and
carries its ids as fixed fields. Fields come from ``extra=log_fields(...)`` and only the
allow-listed ids below are written: names, national ids, face data or photos never reach the
journal, whatever a caller passes.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

# Identifiers only: ids are meaningless outside the gate's own database.
FIELDS = ("lane", "reader", "camera", "device", "event", "alert", "person", "card", "plate",
          "verdict", "reason", "decision_ms", "seq")

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}
_NEEDS_QUOTES = re.compile(r"[\s\"=]")
_PREFIX = "gate_"  # LogRecord attribute prefix, so our fields never clash with logging's own


def log_fields(**ids: object) -> dict[str, object]:
    """``extra=`` for a log call: ``log.info("denied", extra=log_fields(lane="L1", card=uid))``.

    Unknown names are refused at the call site, not silently dropped, so a name or a photo
    cannot be smuggled into the journal under a new key.
    """
    unknown = sorted(set(ids) - set(FIELDS))
    if unknown:
        raise ValueError(f"not a loggable id field: {', '.join(unknown)}")
    return {_PREFIX + k: v for k, v in ids.items() if v is not None}


def _value(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace("\n", "\\n")
    if _NEEDS_QUOTES.search(text) or not text:
        text = '"' + text.replace('"', '\\"') + '"'
    return text


def one_line(text: str) -> str:
    """Multi-line text (tracebacks) folded into one line: journald would split it otherwise."""
    return " | ".join(part for part in text.splitlines() if part.strip())


class JournalFormatter(logging.Formatter):
    """``<6>gate.engine: message lane=L1 reader=L1-in event=...``.

    The ``<N>`` prefix is how journald reads a priority from a stream; journald adds its own
    timestamp, so none is written (the ``plain`` variant for a terminal adds one).
    """

    def __init__(self, *, priority_prefix: bool = True, timestamps: bool = False) -> None:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s" if timestamps else \
            "%(name)s: %(message)s"
        super().__init__(fmt)
        self.priority_prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        line = one_line(super().format(record))
        fields = " ".join(f"{name}={_value(getattr(record, _PREFIX + name))}"
                          for name in FIELDS if hasattr(record, _PREFIX + name))
        if fields:
            line = f"{line} {fields}"
        if self.priority_prefix:
            line = f"<{_PRIORITY.get(record.levelno, 6)}>{line}"
        return line


def setup_logging(verbose: bool = False) -> None:
    """Under systemd (``JOURNAL_STREAM`` set) priority-prefixed lines; on a terminal, timestamps."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(JournalFormatter(priority_prefix=False, timestamps=True))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("yoyo").setLevel(logging.WARNING)  # one line per SQL step is noise


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The id fields a record carries (for tests and for a structured handler)."""
    return {name: getattr(record, _PREFIX + name) for name in FIELDS
            if hasattr(record, _PREFIX + name)}

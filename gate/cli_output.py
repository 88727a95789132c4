"""How every ``gate`` command reports: JSON lines on stdout, ``gate: ...`` errors on stderr.

Its own module so that command modules registered in ``gate/cli.py`` (``gate.ops_commands``)
use these without importing ``gate.cli``, which imports them (an import cycle).
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer


def fail(message: str, code: int = 2) -> NoReturn:
    for line in message.splitlines() or [message]:
        typer.echo(f"gate: {line}", err=True)
    raise typer.Exit(code)


def emit(obj: dict[str, Any]) -> None:
    """One JSON object per line, flushed, so pipes see each result at once."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()

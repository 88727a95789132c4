"""Worker processes named for ``ps``, ``top`` and the soak: "gate-photo-0", not "python3"."""

from __future__ import annotations

import contextlib
import ctypes

_PR_SET_NAME = 15


def name_process(name: str) -> None:
    """Set this process's name as the kernel shows it (``/proc/PID/comm``, 15 bytes). Best
    effort: where prctl is missing the process keeps its name."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)

"""How the processes that decode images or run a model are started: forked from one fork
server that has already imported face_recognition.

``face_recognition`` loads dlib's models when it is imported: about 2.5 s of CPU in every
fresh interpreter before a worker has done anything. Forked from the server, a photo worker
is ready in 0.1 s instead of 2.5 s (docs/ARCHITECTURE.md, "The safety core and its
workers"), so a crashed worker is back at once and workers share those pages instead of
loading them each. The fork server is a process of its own, started by multiprocessing at the
first worker start; the gate process that reads cards and drives relays still imports none
of these libraries (tests/test_safety_core.py reads its memory map).

Only face_recognition (with numpy, Pillow and dlib) is preloaded. The server's one other
thread then is OpenBLAS's pool, which OpenBLAS re-creates in a forked child; OpenCV and
onnxruntime start threads of their own at import and are imported by each worker after the
fork, as no model session may exist before one.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.context import ForkServerContext

PRELOAD = ["face_recognition"]


def worker_context() -> ForkServerContext:
    """The multiprocessing context every model or image worker is started with."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx

"""Pictures handed to the page inside a JSON answer (``data:`` URLs, which the console's
Content-Security-Policy allows for images): an audited opening answers once with every
picture it shows, so one act is one request and one audit row."""

from __future__ import annotations

import base64


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")

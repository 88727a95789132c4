"""The server's side of HTTP Digest (RFC 7616) as GA/T 1400 uses it: MD5, qop=auth.

Clients use a library (httpx's ``DigestAuth``); this module is for whoever *challenges*: the
simulator of the upper platform, and the gateway's own endpoints that take dispositions.

Nonces are stateless and signed: ``<issued-at>:<hmac>``, so a restarted server (new secret)
refuses every old nonce, and one older than ``ttl_s`` gets a fresh challenge with
``stale=true`` (the client retries without asking the user again). The nonce count of each
nonce must grow, so a captured header cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # MD5: the standard says so


def expected_response(*, username: str, realm: str, password: str, method: str, uri: str,
                      nonce: str, nc: str, cnonce: str, qop: str = "auth") -> str:
    """RFC 7616 3.4.1 with algorithm MD5 and qop auth."""
    ha1 = md5_hex(f"{username}:{realm}:{password}")
    ha2 = md5_hex(f"{method}:{uri}")
    return md5_hex(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def parse_header(value: str) -> dict[str, str]:
    """The parameters of ``Digest k=v, k="v"`` (quoted strings unescaped)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {m.group(1).lower(): (m.group(2).replace('\\"', '"') if m.group(2) is not None
                                 else m.group(3)) for m in _PARAM.finditer(rest)}


@dataclass
class DigestVerifier:
    """Checks ``Authorization`` headers for one realm and one set of users."""

    realm: str
    users: dict[str, str]                      # username -> password
    clock: Callable[[], float]                 # seconds; monotonic or wall, only differences
    ttl_s: float = 300.0
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    opaque: str = field(default_factory=lambda: secrets.token_hex(8))
    _counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _sign(self, issued: str) -> str:
        return hmac.new(self.secret, issued.encode(), "sha256").hexdigest()[:32]

    def new_nonce(self) -> str:
        issued = f"{self.clock():.6f}"
        raw = f"{issued}:{self._sign(issued)}".encode()
        return base64.b64encode(raw).decode("ascii")

    def challenge(self, stale: bool = False) -> str:
        return (f'Digest realm="{self.realm}", qop="auth", algorithm=MD5, '
                f'nonce="{self.new_nonce()}", opaque="{self.opaque}"'
                + (", stale=true" if stale else ""))

    def _nonce_state(self, nonce: str) -> str:
        """``ok``, ``stale`` (ours but expired) or ``bad``."""
        try:
            issued, sig = base64.b64decode(nonce, validate=True).decode().split(":")
            age = self.clock() - float(issued)
        except (ValueError, UnicodeDecodeError):
            return "bad"
        if not hmac.compare_digest(sig, self._sign(issued)):
            return "bad"
        return "stale" if age > self.ttl_s or age < -1 else "ok"

    def check(self, method: str, uri: str, header: str | None) -> tuple[str | None, bool]:
        """(username, stale): the user when the header is right; otherwise None, with
        ``stale`` True when only the nonce had expired."""
        params = parse_header(header or "")
        need = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if any(k not in params for k in need) or params["realm"] != self.realm:
            return None, False
        if params.get("algorithm", "MD5").upper() != "MD5" or params["qop"] != "auth":
            return None, False
        password = self.users.get(params["username"])
        if password is None or params["uri"] != uri:
            return None, False
        state = self._nonce_state(params["nonce"])
        if state != "ok":
            return None, state == "stale"
        want = expected_response(username=params["username"], realm=self.realm,
                                 password=password, method=method, uri=uri,
                                 nonce=params["nonce"], nc=params["nc"],
                                 cnonce=params["cnonce"])
        if not hmac.compare_digest(want, params["response"].lower()):
            return None, False
        try:
            count = int(params["nc"], 16)
        except ValueError:
            return None, False
        with self._lock:
            if count <= self._counts.get(params["nonce"], 0):
                return None, False           # a replayed header
            self._counts[params["nonce"]] = count
            if len(self._counts) > 10_000:   # expired nonces are refused anyway
                self._counts.clear()
        return params["username"], False

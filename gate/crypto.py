"""Encryption at rest of minors' biometrics and visitors' identity numbers.

AES-256-GCM (the ``cryptography`` package). Every sealed value carries the id of
the key that sealed it, so keys rotate without a flag day: old rows stay readable
with their old key until ``gate keys rotate`` has re-encrypted them. The row's (or
file's) own id and the key id are bound as associated data, so a ciphertext copied
onto another row, or relabelled with another key id, fails to open instead of
decrypting to someone else's face.

Keys come from a systemd credential (``$CREDENTIALS_DIRECTORY/biometric-key``, see
README "Privacy and evidence") or from ``[privacy] key_file`` (mode 0600). The
file holds one key per line, ``<key id> <base64 of 32 bytes>``; the last line is
the key new data is sealed with.

Without any key the gate still runs (a card always works) and says at start that
biometrics are stored unencrypted; :meth:`Sealer.open` passes such plain values
through, so a site can turn encryption on later (``gate keys init`` then
``gate keys rotate`` seals what was stored before).
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CGENC1"
TEXT_PREFIX = "enc1:"
CREDENTIAL_NAME = "biometric-key"
_NONCE = 12


class CryptoError(RuntimeError):
    """A value or key that cannot be used; the message says which and why."""


class WrongKey(CryptoError):
    """The key with this id is not the one the data was sealed with."""


@dataclass(frozen=True)
class KeySource:
    path: Path
    credential: bool  # from systemd: read-only, rotated with systemd-creds


def key_source(key_file: Path | None) -> KeySource | None:
    """Where the key comes from: the systemd credential first, then the key file."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds and (Path(creds) / CREDENTIAL_NAME).is_file():
        return KeySource(Path(creds) / CREDENTIAL_NAME, True)
    if key_file is not None:
        return KeySource(key_file, False)
    return None


def parse_keys(text: str, where: str) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kid, _, b64 = line.partition(" ")
        try:
            key = base64.b64decode(b64.strip(), validate=True)
        except ValueError:
            raise CryptoError(f"{where}:{n}: not base64") from None
        if len(key) != 32 or not kid.isidentifier() or len(kid) > 32:
            raise CryptoError(f"{where}:{n}: expected '<key id> <base64 of 32 bytes>'")
        keys.append((kid, key))
    if not keys:
        raise CryptoError(f"{where}: no key in the file")
    return keys


class KeyRing:
    """Key id -> key; ``current`` seals new data. Re-read from its source when a value
    names a key it does not know (``gate keys rotate`` ran in another process)."""

    def __init__(self, keys: list[tuple[str, bytes]], source: KeySource | None = None) -> None:
        self._lock = threading.Lock()
        self.source = source
        self._set(keys)
        self._mtime = _mtime(source)

    def _set(self, keys: list[tuple[str, bytes]]) -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        self.current = keys[-1][0]

    @classmethod
    def load(cls, source: KeySource) -> KeyRing:
        path = source.path
        try:
            mode = path.stat().st_mode
            text = path.read_text()
        except OSError as exc:
            raise CryptoError(f"key file {path}: cannot read ({exc.strerror})") from None
        if not source.credential and stat.S_IMODE(mode) & 0o077:
            raise CryptoError(f"key file {path}: mode {stat.S_IMODE(mode):o} lets others read "
                              "it; chmod 600")
        return cls(parse_keys(text, str(path)), source)

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def refresh(self) -> None:
        """Follow ``gate keys rotate`` run by another process: new data is sealed with the new
        current key from then on (old keys stay known, so old rows still open)."""
        mtime = _mtime(self.source)
        if self.source is None or mtime == self._mtime:
            return
        fresh = KeyRing.load(self.source)
        with self._lock:
            self._keys.update(fresh._keys)
            self.current = fresh.current
            self._mtime = mtime

    def cipher(self, kid: str) -> AESGCM:
        with self._lock:
            found = self._keys.get(kid)
        if found is None and self.source is not None:
            fresh = KeyRing.load(self.source)
            with self._lock:
                self._keys.update(fresh._keys)
                self.current = fresh.current
                found = self._keys.get(kid)
        if found is None:
            raise CryptoError(f"data sealed with key {kid!r}, which is not in the key file "
                              f"({self.source.path if self.source else 'no key configured'})")
        return found


def _mtime(source: KeySource | None) -> int | None:
    try:
        return source.path.stat().st_mtime_ns if source else None
    except OSError:
        return None


def generate_key_line(kid: str) -> str:
    return f"{kid} {base64.b64encode(secrets.token_bytes(32)).decode()}\n"


def create_key_file(path: Path) -> str:
    """``gate keys init``: a new key file, 0600 from its first byte; refuses to overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kid = "k1"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise CryptoError(f"{path} exists already (use `gate keys rotate`)") from None
    with os.fdopen(fd, "w") as handle:
        handle.write("# campus-gate biometric keys: <id> <base64 key>; the last line seals "
                     "new data. Keep every line until `gate keys rotate` has finished.\n")
        handle.write(generate_key_line(kid))
        handle.flush()
        os.fsync(handle.fileno())
    return kid


def append_key(path: Path, existing: list[str]) -> str:
    """A new current key at the end of the file; the old ones stay so old rows open."""
    n = 1 + max((int(k[1:]) for k in existing if k[1:].isdigit()), default=0)
    kid = f"k{n}"
    with path.open("a") as handle:
        handle.write(generate_key_line(kid))
        handle.flush()
        os.fsync(handle.fileno())
    return kid


def _aad(row_id: str, kid: str) -> bytes:
    return f"campus-gate|{row_id}|{kid}".encode()


def key_id_of(blob: bytes) -> str | None:
    """The key a value was sealed with, or None for a plain (unencrypted) value."""
    if not blob.startswith(MAGIC):
        return None
    n = blob[len(MAGIC)]
    return blob[len(MAGIC) + 1:len(MAGIC) + 1 + n].decode()


class Sealer:
    """Seals and opens values bound to their row id; with no key ring it is the identity,
    and ``encrypted`` is False (the console and the start log say so)."""

    def __init__(self, keys: KeyRing | None) -> None:
        self.keys = keys

    @property
    def encrypted(self) -> bool:
        return self.keys is not None

    def seal(self, data: bytes, row_id: str) -> bytes:
        if self.keys is None:
            return data
        self.keys.refresh()
        kid = self.keys.current
        nonce = secrets.token_bytes(_NONCE)
        body = self.keys.cipher(kid).encrypt(nonce, data, _aad(row_id, kid))
        return MAGIC + bytes([len(kid)]) + kid.encode() + nonce + body

    def open(self, blob: bytes, row_id: str) -> bytes:
        kid = key_id_of(blob)
        if kid is None:
            return blob  # stored before encryption was turned on
        if self.keys is None:
            raise CryptoError(f"{row_id}: encrypted with key {kid!r} but no key is configured "
                              "([privacy] key_file or the biometric-key credential)")
        start = len(MAGIC) + 1 + len(kid)
        nonce, body = blob[start:start + _NONCE], blob[start + _NONCE:]
        try:
            return self.keys.cipher(kid).decrypt(nonce, body, _aad(row_id, kid))
        except InvalidTag:
            raise WrongKey(f"{row_id}: key {kid!r} does not open it: the key file holds a "
                           "different key under that id, or the data was altered") from None

    def seal_text(self, text: str, row_id: str) -> str:
        if self.keys is None:
            return text
        return TEXT_PREFIX + base64.b64encode(self.seal(text.encode(), row_id)).decode()

    def open_text(self, value: str, row_id: str) -> str:
        if not value.startswith(TEXT_PREFIX):
            return value
        return self.open(base64.b64decode(value[len(TEXT_PREFIX):]), row_id).decode()

    def needs_reseal(self, blob: bytes) -> bool:
        """Plain, or sealed with a key other than the current one."""
        return self.keys is not None and key_id_of(blob) != self.keys.current

    def check_value(self, kid: str) -> bytes:
        """A known plaintext sealed with ``kid``: stored once per key, it lets the gate tell
        a wrong key at start instead of at the first face."""
        assert self.keys is not None
        nonce = secrets.token_bytes(_NONCE)
        body = self.keys.cipher(kid).encrypt(nonce, b"campus-gate key check",
                                             _aad("key-check", kid))
        return MAGIC + bytes([len(kid)]) + kid.encode() + nonce + body

    def verify_check(self, kid: str, blob: bytes) -> None:
        self.open(blob, "key-check")
        if key_id_of(blob) != kid:
            raise WrongKey(f"key check of {kid!r} is labelled {key_id_of(blob)!r}")


def load_sealer(key_file: Path | None) -> Sealer:
    source = key_source(key_file)
    if source is None:
        return Sealer(None)
    return Sealer(KeyRing.load(source))


def check_keys(db: sqlite3.Connection, sealer: Sealer, stamp: str) -> None:
    """At start: each key of the key ring opens its stored check value (or stores one), and
    a database with sealed data is never opened without a key. Raises with the reason."""
    rows = {r[0]: bytes(r[1]) for r in db.execute("SELECT key_id, check_value FROM crypto_keys")}
    if sealer.keys is None:
        if rows:
            raise CryptoError("this database holds encrypted biometrics (keys "
                              f"{', '.join(sorted(rows))}) but no key is configured: set "
                              "[privacy] key_file or the biometric-key credential")
        return
    for kid in sealer.keys.ids:
        if kid in rows:
            try:
                sealer.verify_check(kid, rows[kid])
            except WrongKey:
                where = sealer.keys.source.path if sealer.keys.source else "the key ring"
                raise WrongKey(f"key {kid!r} in {where} is not the key this database was "
                               "encrypted with (wrong key file or credential?)") from None
        else:
            db.execute("INSERT INTO crypto_keys (key_id, check_value, created_at) VALUES (?,?,?)",
                       (kid, sealer.check_value(kid), stamp))

"""Encrypted backups: Fernet (AES-128-CBC with an HMAC-SHA256 tag) under BACKUP_ENCRYPTION_KEY.

A backup holds every process note in plain text (HIPAA 164.312(a)(2)(iv), encryption at rest).
Making, restoring and verifying an encrypted SQLite backup hold its plaintext only in memory;
the backup file is ciphertext. Verifying an encrypted PostgreSQL backup restores it into a
scratch database on the server (its files and WAL hold the plaintext until it is dropped): see
services.verify_backup. The manifest says a backup is encrypted and names its key by a
fingerprint (not the key), so a missing or wrong key is told apart from a changed file; while a
key is configured, a backup without encryption is refused unless asked for (a swapped-in plain
backup would otherwise restore an attacker's records).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from ..config import Settings
from .manifest import BackupError, Manifest

ENV_KEY = "BACKUP_ENCRYPTION_KEY"
SCHEME = "fernet"
GENERATE = ("python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'")


@dataclass(frozen=True)
class BackupKey:
    fernet: Fernet
    #: a fingerprint of the key, kept in the manifest: which key a backup needs, not the key
    key_id: str


def key_id(raw: bytes) -> str:
    return hashlib.sha256(b"ketamine-integration backup key\0" + raw).hexdigest()[:16]


def parse_key(text: str | None) -> BackupKey:
    """The key from its environment text; a missing or malformed one is refused, naming how to make one."""
    if not text or not text.strip():
        raise BackupError(f"{ENV_KEY} is not set: an encrypted backup needs a Fernet key in the environment; "
                          f"generate one with {GENERATE} and keep it apart from the backups")
    raw = text.strip().encode("ascii", "replace")
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (ValueError, binascii.Error):
        decoded = b""
    # Only the canonical text: base64 decoding forgives trailing junk, extra padding and "+/" for
    # "-_", so one key has many spellings, and the key id (a hash of the text, stable for every
    # backup already made) would call the same key "another key".
    if len(decoded) != 32 or base64.urlsafe_b64encode(decoded) != raw:
        raise BackupError(f"{ENV_KEY} is not a valid Fernet key (32 bytes, url-safe base64: exactly 44 "
                          f"characters ending in '=', nothing after it); generate one with {GENERATE}")
    return BackupKey(Fernet(raw), key_id(raw))


def key_from_environment() -> str | None:
    return Settings.read(os.environ).BACKUP_ENCRYPTION_KEY


def require_encrypted(manifest: Manifest, backup: Path, key_text: str | None, *, allow_unencrypted: bool) -> None:
    """With a key configured, this clinic's backups are encrypted: a plain one is refused unless
    the operator says they mean it. Without this, swapping a backup and its manifest for an
    attacker's plain pair downgraded the encryption, and verify and restore took it."""
    if manifest.encryption or allow_unencrypted or not (key_text and key_text.strip()):
        return
    raise BackupError(f"{backup} is not encrypted, but {ENV_KEY} is set, so this clinic's backups are: a plain "
                      "backup here may have been put in place of an encrypted one; nothing was restored or "
                      "checked. If you mean to use a plain backup (one made before encryption was turned on), "
                      "give --allow-unencrypted")


def encrypt(key: BackupKey, plaintext: bytes) -> bytes:
    return key.fernet.encrypt(plaintext)


def write_ciphertext(path: Path, ciphertext: bytes) -> None:
    """Create `path` 0600 from the start (never a moment readable by others) and write it."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(ciphertext)
        handle.flush()
        os.fsync(handle.fileno())


def decrypt(manifest: Manifest, backup: Path, key_text: str | None) -> bytes:
    """The plaintext of an encrypted backup, in memory; every way it can fail is named."""
    if manifest.encryption != SCHEME:
        raise BackupError(f"{backup}: unknown encryption {manifest.encryption!r}")
    if not key_text or not key_text.strip():
        raise BackupError(f"{backup} is encrypted: set {ENV_KEY} to the key it was made with "
                          f"(key id {manifest.key_id}); nothing was restored or checked")
    key = parse_key(key_text)
    if key.key_id != manifest.key_id:
        raise BackupError(f"{ENV_KEY} is not the key {backup} was encrypted with (the backup needs key id "
                          f"{manifest.key_id}, this key's id is {key.key_id}); nothing was restored or checked")
    try:
        return key.fernet.decrypt(backup.read_bytes())
    except InvalidToken:
        raise BackupError(f"{backup} could not be decrypted: the key is right but the ciphertext fails its "
                          "authentication tag, so the file was changed or damaged; nothing was restored "
                          "or checked") from None

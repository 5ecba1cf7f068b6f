"""Encrypted backups: Fernet (AES-128-CBC with an HMAC-SHA256 tag) under BACKUP_ENCRYPTION_KEY.

A backup holds every process note in plain text (HIPAA 164.312(a)(2)(iv), encryption at rest).
The plaintext of an encrypted backup lives only in memory, on the way in and on the way out;
only ciphertext is ever written to disk. The manifest says a backup is encrypted and names its
key by a fingerprint (not the key), so a missing or wrong key is told apart from a changed file.
"""
from __future__ import annotations

import binascii
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

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
        return BackupKey(Fernet(raw), key_id(raw))
    except (ValueError, TypeError, binascii.Error):
        raise BackupError(f"{ENV_KEY} is not a valid Fernet key (32 bytes, url-safe base64: 44 characters); "
                          f"generate one with {GENERATE}") from None


def key_from_environment() -> str | None:
    return os.environ.get(ENV_KEY)


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

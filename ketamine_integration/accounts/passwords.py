"""Password hashing with argon2id (argon2-cffi) and the clinic's password policy."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

MIN_LENGTH = 12
MAX_LENGTH = 256  # long passphrases welcome; the cap only stops hashing megabytes


def _hasher() -> PasswordHasher:
    cfg = current_app.config
    return PasswordHasher(time_cost=cfg["PASSWORD_HASH_TIME_COST"],
                          memory_cost=cfg["PASSWORD_HASH_MEMORY_KIB"])


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters; a passphrase of several words works well."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if username and username.lower() in password.lower():
        return "The password must not contain the username."
    if len(set(password)) < 4:
        return "The password repeats too few characters."
    return None


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


def burn_time(password: str) -> None:
    """Hash once for an unknown username so its timing matches a wrong password."""
    _hasher().hash(password)

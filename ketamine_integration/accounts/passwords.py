"""Password hashing with argon2id (argon2-cffi) and the clinic's password policy."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

MIN_LENGTH = 12
MAX_LENGTH = 256  # long passphrases welcome; the cap only stops hashing megabytes
#: zxcvbn's guessability score (0-4) a new password must reach: 3 = "safely unguessable"
MIN_SCORE = 3
#: zxcvbn judges at most this many characters (4.5 refuses more; its cost grows with length):
#: a longer passphrase is judged by its beginning
ESTIMATE_CHARS = 72


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    """30,000 most common passwords of public breach corpora, shipped offline with zxcvbn."""
    return frozenset(FREQUENCY_LISTS["passwords"])


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
    if password.lower() in _common() or zxcvbn(password[:ESTIMATE_CHARS], user_inputs=[username])["score"] < MIN_SCORE:
        return ("This password is common or easy to guess: it appears in, or is built from, lists of breached "
                "passwords. A passphrase of several unrelated words works well.")
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

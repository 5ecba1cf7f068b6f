"""Settings read from the environment, with safe defaults for development and tests."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: Secret keys that must never run in production (examples from docs and our own dev files).
WEAK_SECRET_KEYS = frozenset({"dev", "development", "secret", "changeme", "change-me", "test"})
MIN_SECRET_KEY_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The environment does not allow the app to start safely."""


@dataclass(frozen=True)
class EnvSetting:
    """One environment variable; tests/unit/test_config.py checks the README documents each."""

    name: str
    default: str
    meaning: str


ENV_SETTINGS = (
    EnvSetting("KI_ENV", "development", "development, testing or production"),
    EnvSetting("SECRET_KEY", "random, kept in instance/", "signs session cookies and CSRF tokens; "
               "required (32+ characters) in production"),
    EnvSetting("DATABASE_URL", "sqlite:///instance/ketamine_integration.db",
               "SQLAlchemy URL; postgresql://user@host/db in production (psycopg 3 is used)"),
    EnvSetting("CLINIC_NAME", "Harbor Light Ketamine Clinic (demo)", "shown in the header and on reports"),
    EnvSetting("CLINIC_TIMEZONE", "America/New_York", "IANA zone in which times are entered and shown"),
    EnvSetting("SESSION_IDLE_MINUTES", "15", "automatic logoff after this much inactivity"),
    EnvSetting("SESSION_MAX_HOURS", "12", "absolute session limit, however active"),
    EnvSetting("PAGE_SIZE", "25", "rows per page in lists"),
    EnvSetting("PROTOCOLS_DIR", "the shipped protocols/", "folder of protocol definition files"),
    EnvSetting("KETAMINE_MAX_DOSE_MG", "500", "a ketamine dose above this is refused as a typing error"),
    EnvSetting("ESKETAMINE_MAX_DOSE_MG", "84", "an esketamine dose above this is refused (label maximum)"),
    EnvSetting("CLINIC_EMAIL", "scheduling@harbor-light.example", "organizer address on calendar invitations"),
    EnvSetting("CALENDAR_UID_DOMAIN", "ketamine-integration.invalid", "domain part of calendar event UIDs; "
               "set it once to the clinic's own domain and never change it (UIDs must stay stable)"),
    EnvSetting("FEED_REQUESTS_PER_HOUR", "60", "requests a calendar feed address answers per hour"),
    EnvSetting("BUSY_IMPORT_DAYS", "120", "how far ahead an imported calendar's busy time is read"),
    EnvSetting("TRUSTED_PROXY_HOPS", "0", "reverse proxies in front of the app whose "
               "X-Forwarded-For is trusted (read by wsgi.py)"),
    EnvSetting("LOGIN_ACCOUNT_LIMIT", "5", "failed sign-ins for one username within the window before "
               "that account's sign-in is refused for a while"),
    EnvSetting("LOGIN_ADDRESS_LIMIT", "50", "failed sign-ins from one client address within the window "
               "before that address is refused for a while"),
    EnvSetting("LOGIN_WINDOW_MINUTES", "15", "how long a failed sign-in counts"),
    EnvSetting("LOGIN_BACKOFF_SECONDS", "60", "first refusal period once a limit is reached; "
               "it doubles with every further failure"),
    EnvSetting("AUDIT_HMAC_KEY", "derived from SECRET_KEY", "key of the HMAC chain that makes the audit "
               "trail tamper-evident; required in production (32+ random characters, not the SECRET_KEY)"),
    EnvSetting("BACKUP_ENCRYPTION_KEY", "none", "Fernet key of `flask backup --encrypt`, read by the backup "
               "commands only (restore and verify need it for an encrypted backup)"),
)


def _int_env(environ, name: str, default: int, minimum: int = 1) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"CLINIC_TIMEZONE {name!r} is not an IANA time zone") from None
    return name


def _dev_secret_key(instance_path: Path) -> str:
    """A random key kept in the instance folder so development logins survive a restart."""
    key_file = instance_path / "dev-secret-key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def check_secret_key(key: str | None) -> None:
    """Refuse a missing, short or well-known secret key (production only)."""
    if not key:
        raise ConfigurationError("SECRET_KEY must be set in production")
    if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in WEAK_SECRET_KEYS or len(set(key)) < 10:
        raise ConfigurationError(
            f"SECRET_KEY is too weak for production: use at least {MIN_SECRET_KEY_LENGTH} random "
            "characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def normalise_database_url(url: str) -> str:
    """psycopg 3 is the driver we install; SQLAlchemy's bare postgresql:// would pick psycopg2."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def check_audit_key(key: str | None, secret_key: str | None) -> None:
    """Refuse a missing, weak or reused audit chain key (production only)."""
    if not key:
        raise ConfigurationError("AUDIT_HMAC_KEY must be set in production (it seals the audit trail)")
    if len(key) < MIN_SECRET_KEY_LENGTH or key.lower() in WEAK_SECRET_KEYS or len(set(key)) < 10:
        raise ConfigurationError(f"AUDIT_HMAC_KEY is too weak for production: use at least "
                                 f"{MIN_SECRET_KEY_LENGTH} random characters")
    if key == secret_key:
        # Separate keys: rotating the session key must not invalidate the whole audit chain.
        raise ConfigurationError("AUDIT_HMAC_KEY must differ from SECRET_KEY")


def derived_audit_key(secret_key: str) -> str:
    """Development and tests: a key derived from SECRET_KEY, so zero set-up still seals the trail."""
    return hmac.new(secret_key.encode(), b"ketamine_integration audit chain key v1", hashlib.sha256).hexdigest()


def _audit_key(environ, production: bool, secret_key: str) -> str:
    key = environ.get("AUDIT_HMAC_KEY")
    if production:
        check_audit_key(key, secret_key)
    return key or derived_audit_key(secret_key)


def load_config(instance_path: str, environ=os.environ) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = environ.get("KI_ENV", "development")
    if env not in ("development", "testing", "production"):
        raise ConfigurationError(f"KI_ENV must be development, testing or production, got {env!r}")
    production = env == "production"
    instance = Path(instance_path)
    secret_key = environ.get("SECRET_KEY")
    if production:
        check_secret_key(secret_key)
    elif not secret_key:
        secret_key = _dev_secret_key(instance)
    database_url = normalise_database_url(
        environ.get("DATABASE_URL") or f"sqlite:///{instance / 'ketamine_integration.db'}")
    return {
        "KI_ENV": env,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: a database error's message never carries the statement's values (note
        # text, names) into a log; SECURITY.md, "Server logs"
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "CLINIC_NAME": environ.get("CLINIC_NAME", "Harbor Light Ketamine Clinic (demo)"),
        "CLINIC_TIMEZONE": _timezone(environ.get("CLINIC_TIMEZONE", "America/New_York")),
        "SESSION_IDLE_MINUTES": _int_env(environ, "SESSION_IDLE_MINUTES", 15),
        "SESSION_MAX_HOURS": _int_env(environ, "SESSION_MAX_HOURS", 12),
        "PAGE_SIZE": _int_env(environ, "PAGE_SIZE", 25),
        "CLINIC_EMAIL": environ.get("CLINIC_EMAIL", "scheduling@harbor-light.example"),
        "CALENDAR_UID_DOMAIN": environ.get("CALENDAR_UID_DOMAIN", "ketamine-integration.invalid"),
        "FEED_REQUESTS_PER_HOUR": _int_env(environ, "FEED_REQUESTS_PER_HOUR", 60),
        "BUSY_IMPORT_DAYS": _int_env(environ, "BUSY_IMPORT_DAYS", 120),
        "TRUSTED_PROXY_HOPS": _int_env(environ, "TRUSTED_PROXY_HOPS", 0, minimum=0),
        # Sign-in brute-force limits (ASVS 5.0 V6.3.1), counted in the database: see accounts/throttle.py.
        "LOGIN_ACCOUNT_LIMIT": _int_env(environ, "LOGIN_ACCOUNT_LIMIT", 5),
        "LOGIN_ADDRESS_LIMIT": _int_env(environ, "LOGIN_ADDRESS_LIMIT", 50),
        "LOGIN_WINDOW_MINUTES": _int_env(environ, "LOGIN_WINDOW_MINUTES", 15),
        "LOGIN_BACKOFF_SECONDS": _int_env(environ, "LOGIN_BACKOFF_SECONDS", 60),
        "AUDIT_HMAC_KEY": _audit_key(environ, production, secret_key),
        # Ceilings catch typing errors (500 for 50); they are not dosing advice.
        "DOSE_CEILING_MG": {"ketamine": _int_env(environ, "KETAMINE_MAX_DOSE_MG", 500),
                            "esketamine": _int_env(environ, "ESKETAMINE_MAX_DOSE_MG", 84)},
        **({"PROTOCOLS_DIR": environ["PROTOCOLS_DIR"]} if environ.get("PROTOCOLS_DIR") else {}),
        # Cookies: never readable by scripts, not sent cross-site, HTTPS-only in production.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "ki_session",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (server-limited) session
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # argon2id cost; tests lower it (never in production) to keep the suite fast.
        "PASSWORD_HASH_TIME_COST": 3,
        "PASSWORD_HASH_MEMORY_KIB": 65536,
        "TESTING": env == "testing",
    }

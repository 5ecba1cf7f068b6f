"""Settings read from the environment, with safe defaults for development and tests."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, ValidationInfo
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Secret keys that must never run in production (examples from docs and our own dev files).
WEAK_SECRET_KEYS = frozenset({"dev", "development", "secret", "changeme", "change-me", "test"})
MIN_SECRET_KEY_LENGTH = 32
#: compiled SQL statements kept per database engine (SQLAlchemy's query_cache_size, default 500):
#: the app issues about 1,100 distinct statements over the test suite, which reaches every page and
#: service; at 500 they pushed each other out and were compiled again and again (an entry is some
#: 20 KB, so a full cache is about 40 MB a process at most)
STATEMENT_CACHE_SIZE = 2000


class ConfigurationError(RuntimeError):
    """The environment does not allow the app to start safely."""


ENVIRONMENTS = ("development", "testing", "production")


def _whole_number(minimum: int) -> BeforeValidator:
    """A whole number of at least `minimum`; set but empty counts as unset (the default)."""
    def check(raw, info: ValidationInfo) -> int:
        if raw is None or raw == "":
            raise PydanticUseDefault()
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{info.field_name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"{info.field_name} must be at least {minimum}, got {value}")
        return value
    return BeforeValidator(check)


def _environment(name: str) -> str:
    if name not in ENVIRONMENTS:
        raise ValueError(f"KI_ENV must be development, testing or production, got {name!r}")
    return name


QUEUE_SCHEMES = ("sqlite:///", "redis://", "rediss://", "unix://")
MAIL_BACKENDS = ("file", "smtp")
SMTP_TLS_MODES = ("starttls", "ssl", "none")
SMS_BACKENDS = ("file", "http", "none")
SMS_ENCODINGS = ("json", "form")
#: hosts an SMS provider URL may reach over plain http (a provider stand-in on this machine)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _queue_url(url: str | None) -> str | None:
    if url and not url.startswith(QUEUE_SCHEMES):
        raise ValueError(f"KI_QUEUE_URL must start with sqlite:///, redis://, rediss:// or unix://, got {url!r}")
    return url or None


def _app_url(url: str) -> str:
    """The app's own address, as links in emails carry it: http(s), a host, no query or fragment."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"KI_APP_URL must be the app's address, e.g. https://ki.clinic.example, got {url!r}")
    return url.strip().rstrip("/")


def _one_of(name: str, choices: tuple[str, ...]) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value and value not in choices:
            raise ValueError(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}, got {value!r}")
        return value or None
    return AfterValidator(check)


def _sms_url(url: str | None) -> str | None:
    """https only: the request carries the patient's number, the text and the provider's token
    (encryption in transit, 45 CFR 164.312(e)); plain http to this machine alone."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.hostname or not (parts.scheme == "https"
                                  or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)):
        raise ValueError(f"KI_SMS_URL must be an https:// address (http:// only to this machine), got {url!r}")
    return url


def _country_code(code: str) -> str:
    code = code.strip().removeprefix("+")
    if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 3):
        raise ValueError(f"KI_SMS_COUNTRY_CODE must be 1 to 3 digits (1 for the US and Canada), got {code!r}")
    return code


def _timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"CLINIC_TIMEZONE {name!r} is not an IANA time zone") from None
    return name


Count = Annotated[int, _whole_number(1)]


def _setting(default, meaning: str, *, shown: str | None = None):
    """A variable's default and meaning, as README's table shows them; `shown` for a default
    worked out at start-up (from the instance folder or another setting)."""
    return Field(default, description=meaning,
                 json_schema_extra={"shown": shown if shown is not None else f"`{default}`"})


class Settings(BaseSettings):
    """Every environment variable the app reads, its default and its meaning: README's table
    is `settings_table()` (tests/unit/test_config.py holds them equal)."""

    # The environment comes in as a mapping (create_app passes os.environ with a test's
    # SECRET_KEY), so the model reads that alone: no .env file, no secrets folder.
    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore")

    KI_ENV: Annotated[str, AfterValidator(_environment)] = _setting(
        "development", "`development`, `testing` or `production`")
    SECRET_KEY: str | None = _setting(
        None, "signs session cookies and CSRF tokens; required in production (32+ random characters) — the app "
        "refuses to start without it", shown="random, kept in `instance/`")
    DATABASE_URL: str | None = _setting(
        None, "SQLAlchemy URL; `postgresql://user@host/db` in production",
        shown="`sqlite:///instance/ketamine_integration.db`")
    CLINIC_NAME: str = _setting("Harbor Light Ketamine Clinic (demo)", "shown in the header and on reports")
    CLINIC_TIMEZONE: Annotated[str, AfterValidator(_timezone)] = _setting(
        "America/New_York", "IANA zone in which times are entered and shown (stored in UTC)")
    SESSION_IDLE_MINUTES: Count = _setting(15, "automatic logoff after this much inactivity")
    SESSION_MAX_HOURS: Count = _setting(12, "absolute session limit, however active")
    # The patient portal's own sessions (issue 23): shorter, a phone left on a table (portal/sessions.py).
    KI_PORTAL_IDLE_MINUTES: Count = _setting(10, "a patient's portal session ends after this much inactivity")
    KI_PORTAL_MAX_HOURS: Count = _setting(4, "absolute limit of a patient's portal session, however active")
    PAGE_SIZE: Count = _setting(25, "rows per page in lists")
    PROTOCOLS_DIR: str | None = _setting(
        None, "folder of protocol definition files (see `protocols/README.md`)",
        shown="`protocols/` of the checkout (installed: the copy inside the package)")
    TECHNIQUES_DIR: str | None = _setting(
        None, "folder of the technique vocabulary files (see `vocabularies/README.md`)",
        shown="`vocabularies/` of the checkout (installed: the copy inside the package)")
    FORMS_DIR: str | None = _setting(
        None, "folder of the intake and consent form files (see `forms/README.md`)",
        shown="`forms/` of the checkout (installed: the copy inside the package)")
    # Ceilings catch typing errors (500 for 50); they are not dosing advice.
    KETAMINE_MAX_DOSE_MG: Count = _setting(
        500, "a recorded ketamine dose above this is refused as a typing error (not dosing advice)")
    ESKETAMINE_MAX_DOSE_MG: Count = _setting(
        84, "a recorded esketamine dose above this is refused (the label's maximum)")
    CLINIC_EMAIL: str = _setting("scheduling@harbor-light.example", "organizer address on calendar invitations")
    CALENDAR_UID_DOMAIN: str = _setting(
        "clinic-calendar.invalid", "domain part of calendar event UIDs and message ids, which patients' "
        "invitations carry (so no clinical word); set it once to the clinic's own domain and never change it "
        "(calendar apps match events by UID)")
    FEED_REQUESTS_PER_HOUR: Count = _setting(
        60, "requests one calendar feed address answers per hour (counted in the database, shared by every "
        "server process); more get 429 with `Retry-After`")
    BUSY_IMPORT_DAYS: Count = _setting(
        120, "how far ahead an imported calendar's busy time (recurring events expanded) is read")
    TRUSTED_PROXY_HOPS: Annotated[int, _whole_number(0)] = _setting(
        0, "reverse proxies in front of the app whose `X-Forwarded-For` is trusted (so audit rows record the "
        "client's address)")
    # Sign-in brute-force limits (ASVS 5.0 V6.3.1), counted in the database: see accounts/throttle.py.
    LOGIN_ACCOUNT_LIMIT: Count = _setting(
        5, "failed sign-ins for one username within the window before that account's sign-in is paused "
        "(unknown usernames are counted the same way)")
    LOGIN_ADDRESS_LIMIT: Count = _setting(
        50, "failed sign-ins from one client address within the window before that address is paused")
    LOGIN_WINDOW_MINUTES: Count = _setting(15, "how long a failed sign-in counts")
    LOGIN_BACKOFF_SECONDS: Count = _setting(
        60, "the first pause once a limit is reached; it doubles with each further failure (and never "
        "outlasts the window)")
    AUDIT_HMAC_KEY: str | None = _setting(
        None, "key of the HMAC chain over the audit trail (`flask --app wsgi audit verify`); required in "
        "production (32+ random characters, different from `SECRET_KEY`) — the app refuses to start without "
        "it. Keep it as safely as the database backups, and never change it: existing rows are checked with it",
        shown="derived from `SECRET_KEY`")
    BACKUP_ENCRYPTION_KEY: str | None = _setting(
        None, "Fernet key of `flask --app wsgi backup --encrypt` (see \"Backups\"); read by the backup commands "
        "only, never by the app server. `restore` and `backup verify` need it for an encrypted backup, and "
        "while it is set refuse a plain one unless `--allow-unencrypted` is given. Keep it apart from the "
        "backups, and keep every key an old backup was made with", shown="none")

    # The job queue and the mailer (issue 22): messaging/queue.py and messaging/mailer.py.
    KI_QUEUE_URL: Annotated[str | None, AfterValidator(_queue_url)] = _setting(
        None, "where the background job queue keeps its jobs: `sqlite:///path` (one machine) or "
        "`redis://host:6379/0` (production, several workers); see \"Messages and the worker\"",
        shown="`sqlite:///instance/queue.sqlite3`")
    KI_QUEUE_MAX_ATTEMPTS: Count = _setting(
        5, "attempts at sending one message before it is marked failed and shown to staff")
    KI_QUEUE_RETRY_SECONDS: Count = _setting(
        60, "wait before the second attempt; it doubles before each further one (60 s, 2, 4, 8 min)")
    KI_MAIL_BACKEND: Annotated[str | None, _one_of("KI_MAIL_BACKEND", MAIL_BACKENDS)] = _setting(
        None, "`smtp` sends through the SMTP server below; `file` writes each message as an `.eml` file "
        "into `instance/outbox/` and sends nothing", shown="`smtp` in production, `file` otherwise")
    KI_SMTP_HOST: str = _setting("localhost", "SMTP server that sends the clinic's email")
    KI_SMTP_PORT: Count = _setting(587, "its port (587 with `starttls`, 465 with `ssl`, 25 with `none`)")
    KI_SMTP_TLS: Annotated[str, _one_of("KI_SMTP_TLS", SMTP_TLS_MODES)] = _setting(
        "starttls", "`starttls`, `ssl` (TLS from the first byte) or `none` (a relay on the same machine only)")
    KI_SMTP_USER: str | None = _setting(None, "SMTP user name, when the server asks for one", shown="none")
    KI_SMTP_PASSWORD: str | None = _setting(None, "its password", shown="none")
    KI_SMTP_TIMEOUT_SECONDS: Count = _setting(30, "how long one SMTP conversation may wait on the server")
    KI_MAIL_FROM: str | None = _setting(
        None, "sender address of the clinic's messages", shown="`CLINIC_EMAIL`")
    KI_MAIL_FROM_NAME: str | None = _setting(
        None, "sender name patients see; keep it discreet (no treatment named)",
        shown="`CLINIC_NAME` without its clinical words or brackets (`Harbor Light Clinic`)")

    # Text messages (issue 22): messaging/sms.py; README, "Messages and the worker".
    KI_SMS_BACKEND: Annotated[str | None, _one_of("KI_SMS_BACKEND", SMS_BACKENDS)] = _setting(
        None, "`http` sends texts through the provider at `KI_SMS_URL`; `file` writes each as a `.txt` file "
        "into `instance/outbox/sms/` and sends nothing; `none`: the clinic sends no texts (one queued fails, "
        "shown to staff)", shown="`none` in production, `file` otherwise")
    KI_SMS_URL: Annotated[str | None, AfterValidator(_sms_url)] = _setting(
        None, "the provider's endpoint that takes one message per POST (https only), e.g. "
        "`https://api.twilio.com/2010-04-01/Accounts/<SID>/Messages.json`; required with `http`", shown="none")
    KI_SMS_USER: str | None = _setting(
        None, "with it, the request carries HTTP basic auth `KI_SMS_USER:KI_SMS_TOKEN` (Twilio: the account "
        "SID); without it, `Authorization: Bearer KI_SMS_TOKEN`", shown="none")
    KI_SMS_TOKEN: str | None = _setting(None, "the provider's API token (or basic-auth password)", shown="none")
    KI_SMS_FROM: str | None = _setting(
        None, "the number or sender id texts come from (the provider must allow it); required with `http`",
        shown="none")
    KI_SMS_ENCODING: Annotated[str, _one_of("KI_SMS_ENCODING", SMS_ENCODINGS)] = _setting(
        "json", "`json`: a body `{\"to\", \"from\", \"body\"}`; `form`: `To`, `From`, `Body` form-encoded (Twilio)")
    KI_SMS_TIMEOUT_SECONDS: Count = _setting(
        15, "how long one request to the provider may take, connection to last byte (then it is retried)")
    KI_SMS_COUNTRY_CODE: Annotated[str, AfterValidator(_country_code)] = _setting(
        "1", "country calling code given to a patient's number written without one (`(555) 010-0123` is sent "
        "to `+15550100123`)")

    # Staff notifications (issue 22, point 6): notifications/links.py.
    KI_APP_URL: Annotated[str, AfterValidator(_app_url)] = _setting(
        "http://localhost:5000", "the app's address as staff open it (`https://ki.clinic.example`, with any path "
        "it is served under): the links of safety alert emails and daily summaries")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return (init_settings,)

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in `environ`; a bad value is refused naming its variable."""
        try:
            return cls(**{name: environ[name] for name in cls.model_fields if name in environ})
        except ValidationError as err:
            raise ConfigurationError("; ".join(_problem(e) for e in err.errors())) from None


def _problem(error: dict) -> str:
    """Our validators' own words; pydantic's, after the variable's name, otherwise."""
    if isinstance(error.get("ctx", {}).get("error"), ValueError):
        return str(error["ctx"]["error"])
    return f"{error['loc'][0]}: {error['msg']}"


def settings_table() -> str:
    """README's table of environment variables (`flask --app wsgi settings-table` prints it)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{name}` | {field.json_schema_extra['shown']} | {field.description} |")
    return "\n".join(rows)


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


def load_config(instance_path: str, environ: Mapping[str, str] = os.environ) -> dict:
    """Build the Flask config mapping from environment variables."""
    settings = Settings.read(environ)
    production = settings.KI_ENV == "production"
    instance = Path(instance_path)
    secret_key = settings.SECRET_KEY
    if production:
        check_secret_key(secret_key)
        check_audit_key(settings.AUDIT_HMAC_KEY, secret_key)
    elif not secret_key:
        secret_key = _dev_secret_key(instance)
    database_url = normalise_database_url(
        settings.DATABASE_URL or f"sqlite:///{instance / 'ketamine_integration.db'}")
    # The backup key stays out of the app's config: only the backup commands read it.
    plain = settings.model_dump(exclude={"SECRET_KEY", "DATABASE_URL", "AUDIT_HMAC_KEY", "PROTOCOLS_DIR",
                                         "TECHNIQUES_DIR", "FORMS_DIR",
                                         "BACKUP_ENCRYPTION_KEY", "KETAMINE_MAX_DOSE_MG", "ESKETAMINE_MAX_DOSE_MG"})
    return {
        **plain,
        "SECRET_KEY": secret_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        # hide_parameters: a database error's message never carries the statement's values (note
        # text, names) into a log; SECURITY.md, "Server logs"
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True,
                                      "query_cache_size": STATEMENT_CACHE_SIZE},
        "AUDIT_HMAC_KEY": settings.AUDIT_HMAC_KEY or derived_audit_key(secret_key),
        "DOSE_CEILING_MG": {"ketamine": settings.KETAMINE_MAX_DOSE_MG,
                            "esketamine": settings.ESKETAMINE_MAX_DOSE_MG},
        **({"PROTOCOLS_DIR": settings.PROTOCOLS_DIR} if settings.PROTOCOLS_DIR else {}),
        **({"TECHNIQUES_DIR": settings.TECHNIQUES_DIR} if settings.TECHNIQUES_DIR else {}),
        **({"FORMS_DIR": settings.FORMS_DIR} if settings.FORMS_DIR else {}),
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
        "TESTING": settings.KI_ENV == "testing",
        "KI_MAIL_BACKEND": settings.KI_MAIL_BACKEND or ("smtp" if production else "file"),
        "KI_MAIL_FROM": settings.KI_MAIL_FROM or settings.CLINIC_EMAIL,
        "KI_SMS_BACKEND": _sms_backend(settings, production),
    }


def _sms_backend(settings: Settings, production: bool) -> str:
    """`none` in production unless a provider is chosen (never texts into files on a server);
    `http` needs its address and sender, or every text would fail."""
    backend = settings.KI_SMS_BACKEND or ("none" if production else "file")
    if backend == "http":
        missing = [name for name in ("KI_SMS_URL", "KI_SMS_FROM") if not getattr(settings, name)]
        if missing:
            raise ConfigurationError(f"KI_SMS_BACKEND=http needs {' and '.join(missing)}")
    return backend

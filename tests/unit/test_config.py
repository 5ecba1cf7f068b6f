"""Settings from the environment, and the refusal to run production on a weak key."""
from pathlib import Path

import pytest

from ketamine_integration.config import (ConfigurationError, Settings, check_secret_key, derived_audit_key,
                                         load_config, settings_table)

STRONG = "q8Zr1-NbV4mX0pLk7sHe2TyWc9UaDf3GjK6oRi5vB_"
STRONG_AUDIT = "Hk2-pW9xQe4Lr7Tz0Bn5Vc8Ym3Ja6Sd1Fg_Ui"


@pytest.mark.parametrize("key", [
    None,                   # missing
    "",                     # empty
    "short-key",            # under 32 characters
    "changeme",             # a well-known default
    "a" * 40,               # long but no variety
])
def test_weak_secret_keys_are_refused(key):
    with pytest.raises(ConfigurationError):
        check_secret_key(key)


def test_production_refuses_to_start_without_a_strong_key(tmp_path):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config(str(tmp_path), {"KI_ENV": "production"})
    with pytest.raises(ConfigurationError, match="too weak"):
        load_config(str(tmp_path), {"KI_ENV": "production", "SECRET_KEY": "dev"})


def test_production_with_a_strong_key_sets_secure_cookies(tmp_path):
    cfg = load_config(str(tmp_path), {"KI_ENV": "production", "SECRET_KEY": STRONG, "AUDIT_HMAC_KEY": STRONG_AUDIT,
                                      "DATABASE_URL": "postgresql://app@db/clinic"})
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["AUDIT_HMAC_KEY"] == STRONG_AUDIT
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db/clinic"


@pytest.mark.parametrize("audit_key, message", [
    (None, "AUDIT_HMAC_KEY must be set"),          # missing: no silent fallback in production
    ("changeme", "too weak"),                     # a well-known default
    ("b" * 40, "too weak"),                       # long but no variety
    (STRONG, "must differ from SECRET_KEY"),      # reusing the session key
])
def test_production_refuses_a_missing_or_weak_audit_key(tmp_path, audit_key, message):
    environ = {"KI_ENV": "production", "SECRET_KEY": STRONG}
    if audit_key is not None:
        environ["AUDIT_HMAC_KEY"] = audit_key
    with pytest.raises(ConfigurationError, match=message):
        load_config(str(tmp_path), environ)


def test_development_derives_the_audit_key_from_the_secret_key(tmp_path):
    cfg = load_config(str(tmp_path), {"SECRET_KEY": STRONG})
    assert cfg["AUDIT_HMAC_KEY"] == derived_audit_key(STRONG) != STRONG
    assert load_config(str(tmp_path), {"SECRET_KEY": STRONG, "AUDIT_HMAC_KEY": STRONG_AUDIT})["AUDIT_HMAC_KEY"] \
        == STRONG_AUDIT


def test_development_keeps_a_random_key_in_the_instance_folder(tmp_path):
    first = load_config(str(tmp_path), {})["SECRET_KEY"]
    assert len(first) >= 32 and load_config(str(tmp_path), {})["SECRET_KEY"] == first
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0
    assert load_config(str(tmp_path), {})["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


@pytest.mark.parametrize("environ, message", [
    ({"KI_ENV": "staging"}, "KI_ENV"),                           # unknown environment name
    ({"CLINIC_TIMEZONE": "Mars/Olympus"}, "CLINIC_TIMEZONE"),     # not an IANA zone
    ({"SESSION_IDLE_MINUTES": "fifteen"}, "whole number"),
    ({"SESSION_IDLE_MINUTES": "0"}, "at least 1"),
])
def test_bad_settings_are_named(tmp_path, environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_config(str(tmp_path), environ)


README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_setting():
    readme = README.read_text()
    assert [name for name in Settings.model_fields if f"`{name}`" not in readme] == []


def test_readme_settings_table_is_the_models():
    """README's table is `flask settings-table`: names, defaults and meanings come from the model."""
    readme = README.read_text()
    start = readme.index("| variable | default | meaning |")
    end = readme.find("\n\n", start)
    table = readme[start:end if end != -1 else None]
    assert table == settings_table()
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [row[0].removeprefix("| `").rstrip("`") for row in rows] == list(Settings.model_fields)
    defaults = {row[0].removeprefix("| `").rstrip("`"): row[1] for row in rows}
    assert defaults["PAGE_SIZE"] == f"`{Settings.model_fields['PAGE_SIZE'].default}`" == "`25`"


@pytest.mark.parametrize("environ, message", [
    ({"PAGE_SIZE": "-3"}, "PAGE_SIZE must be at least 1, got -3"),
    ({"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS must be at least 0, got -1"),   # 0 allowed here
    ({"LOGIN_BACKOFF_SECONDS": "1.5"}, "LOGIN_BACKOFF_SECONDS must be a whole number, got '1.5'"),
    ({"KI_ENV": ""}, "KI_ENV must be development, testing or production, got ''"),
    ({"PAGE_SIZE": "x", "BUSY_IMPORT_DAYS": "0"}, "PAGE_SIZE must be a whole number, got 'x'; "
                                                  "BUSY_IMPORT_DAYS must be at least 1, got 0"),   # every one named
])
def test_each_bad_value_is_refused_in_its_variables_words(tmp_path, environ, message):
    with pytest.raises(ConfigurationError) as refused:
        load_config(str(tmp_path), environ)
    assert str(refused.value) == message


def test_empty_numbers_take_their_defaults_and_text_is_kept_as_given(tmp_path):
    cfg = load_config(str(tmp_path), {"SECRET_KEY": STRONG, "PAGE_SIZE": "", "KETAMINE_MAX_DOSE_MG": "",
                                      "CLINIC_NAME": "", "PROTOCOLS_DIR": "", "UNRELATED": "x"})
    assert cfg["PAGE_SIZE"] == 25 and cfg["DOSE_CEILING_MG"] == {"ketamine": 500, "esketamine": 84}
    assert cfg["CLINIC_NAME"] == "" and "PROTOCOLS_DIR" not in cfg and "UNRELATED" not in cfg


def test_the_backup_key_stays_out_of_the_apps_config(tmp_path):
    cfg = load_config(str(tmp_path), {"SECRET_KEY": STRONG, "BACKUP_ENCRYPTION_KEY": "k" * 44})
    assert "k" * 44 not in repr(cfg)
    assert Settings.read({"BACKUP_ENCRYPTION_KEY": "k" * 44}).BACKUP_ENCRYPTION_KEY == "k" * 44

"""Backup checksums: one canonical form per value whichever engine produced it; tool lookup."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ketamine_integration.backups.checksums import canonical, row_bytes
from ketamine_integration.backups.manifest import BackupError
from ketamine_integration.backups.postgres import find_tool

UTC = timezone.utc


@pytest.mark.parametrize("a, b", [
    (Decimal("70.50"), Decimal("70.5")),                       # PostgreSQL keeps the scale, SQLite does not
    (Decimal("0.000"), Decimal("0")),                          # zero at any scale
    (Decimal("1E+1"), Decimal("10")),                          # exponent form never leaks into the text
    (datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
     datetime(2026, 3, 8, 2, 0, tzinfo=timezone(timedelta(hours=-5)))),  # one instant, two zones
    (b"\x00\xff", memoryview(b"\x00\xff")),                    # psycopg may hand back a memoryview
    ({"b": 1, "a": [1, 2]}, {"a": [1, 2], "b": 1}),            # JSON key order is not content
])
def test_equal_values_have_one_form(a, b):
    assert canonical(a) == canonical(b)


@pytest.mark.parametrize("a, b", [
    (True, 1),                                                 # a flag is not a count
    ("1", 1),                                                  # text is not a number
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1)),  # aware UTC vs naive
    (date(2026, 1, 1), datetime(2026, 1, 1)),                  # a day is not midnight
    (Decimal("1.5"), 1.5),                                     # exact vs floating
    (None, "null"),                                            # SQL NULL vs the word
])
def test_different_values_stay_different(a, b):
    assert row_bytes([a]) != row_bytes([b])


def test_an_unknown_type_is_refused_rather_than_guessed():
    with pytest.raises(TypeError):
        canonical(object())


def test_pg_tools_are_found_in_versioned_folders_newest_first(tmp_path):
    for major in ("9.6", "15", "13"):
        tool = tmp_path / major / "bin" / "pg_dump"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    assert find_tool("pg_dump", search_path="", roots=(str(tmp_path),)) == str(tmp_path / "15" / "bin" / "pg_dump")


def test_a_missing_pg_tool_is_a_clear_error(tmp_path):
    with pytest.raises(BackupError, match=r"pg_restore not found on PATH or in .*/\*/bin: install"):
        find_tool("pg_restore", search_path="", roots=(str(tmp_path),))

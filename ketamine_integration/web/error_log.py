"""Tracebacks for the server's error log that carry no stored values: the frames and each
exception's type are kept, a database error's parameters and quoted rows are not.

A 500 during a note save used to log SQLAlchemy's `[parameters: {... 'void_reason': '...'}]`,
and PostgreSQL's own message adds `DETAIL: Failing row contains (...)` or `Key (x)=(value)`:
clinical free text in a log the audit trail's access rules do not cover. The engine also hides
parameters (`hide_parameters`, config.py); this is the second wall, for every logged exception.
"""
from __future__ import annotations

import traceback

#: PostgreSQL error classes whose primary message names only a constraint, column or table
#: (23: integrity violations; 40, 55, 57: lock waits and cancels; 08, 53: connection and
#: resources) or is one of this repo's trigger messages (P0: RAISE EXCEPTION, fixed strings;
#: tests/integration/test_error_log.py checks every installed trigger). Other classes, such as
#: 22 (data exceptions: 'invalid input syntax for type integer: "..."'), can quote a value.
SAFE_SQLSTATE_CLASSES = frozenset({"23", "40", "55", "57", "08", "53", "P0"})
#: how far back a chain of causes is followed
MAX_CHAIN = 10


def describe(error: BaseException) -> str:
    """`Type: message` for the log, a database error's message cut to what carries no values."""
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    orig = getattr(error, "orig", None)
    if orig is not None or hasattr(error, "statement"):      # sqlalchemy.exc.StatementError
        # str() would add the SQL and, unless hidden, its parameters; the driver's error says why
        cause = describe(orig) if isinstance(orig, BaseException) else "no driver error"
        return f"{name}: ({cause}) [SQL and parameters not logged]"
    if hasattr(error, "sqlstate") and hasattr(error, "diag"):   # psycopg.Error
        return f"{name}: {_postgresql_message(error)}"
    if hasattr(error, "sqlite_errorname"):                       # sqlite3.Error
        # SQLite names constraints and columns, never values; trigger messages are fixed strings
        return f"{name}: {error} ({error.sqlite_errorname})"
    return "".join(traceback.format_exception_only(error)).rstrip("\n")


def _postgresql_message(error) -> str:
    state, diag = error.sqlstate or "?????", error.diag
    if state[:2] in SAFE_SQLSTATE_CLASSES:
        message = diag.message_primary or ""      # without DETAIL, HINT and CONTEXT
    else:
        names = {"table": diag.table_name, "column": diag.column_name, "constraint": diag.constraint_name,
                 "type": diag.datatype_name}
        message = ", ".join(f"{key} {value}" for key, value in names.items() if value) or "message not logged"
    return f"[{state}] {message}"


def safe_traceback(error: BaseException) -> str:
    """The traceback of `error` and its causes, as Python prints it, with `describe` lines."""
    chain, seen, current = [], set(), error
    while current is not None and id(current) not in seen and len(chain) < MAX_CHAIN:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for earlier, current in enumerate(reversed(chain)):
        if earlier:
            parts.append("\nThe above exception led to the following one:\n\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(current.__traceback__))
        parts.append(describe(current) + "\n")
    return "".join(parts).rstrip("\n")

"""How many SQL statements one page costs: the count tests (statement counts stay constant as
data grows) read it for a GET that must answer 200."""
from __future__ import annotations

from sqlalchemy import event

from ketamine_integration.extensions import db


def page_statements(app, client, path: str) -> int:
    """The SQL statements the engine runs while `client` GETs `path` (which must answer 200)."""
    count = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args, **kwargs: count.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(count)

"""Attaching SQLAlchemy listeners: once per process, in the order the caller lists them.

SQLAlchemy runs the listeners of one event in the order they were attached, and an ORM
session, a mapper or an engine listener attached at class level stays for the life of the
process. So no module attaches its own on import (the order would be the order of imports);
create_app hands the full list, in a written order, to `listen_in_order`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from sqlalchemy import event

#: (target, event name, listener): e.g. (Session, "before_commit", chain_on_commit)
Listener = tuple[Any, str, Callable[..., Any]]


def listen_in_order(listeners: Sequence[Listener]) -> None:
    """Attach each listener not attached yet, in the order given.

    Tests make many apps in one process: a listener attached twice would run twice (two audit
    chain extensions in one commit), so one already attached is left where it is.
    """
    for target, name, listener in listeners:
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)

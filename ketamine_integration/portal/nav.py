"""The portal's navigation: a registry that the portal's own pages and later features append to
(Questionnaires, Journal, Practices, Action steps), drawn by templates/portal/base.html in order.

A feature adds its item where create_app registers it: `add_item("portal_journal.journal",
"Journal", order=30)`. Items whose endpoint the app does not have are left out, so a registry
entry never breaks a page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import current_app


@dataclass(frozen=True)
class NavItem:
    #: the endpoint the item opens (a @portal_page view)
    endpoint: str
    label: str
    #: position: smaller first (Home 0, Account 100; features between)
    order: int
    #: how many things wait there for the patient, shown beside the label ("Forms to sign (2)"); None: no count
    count: Callable[[], int] | None = None


NAV: dict[str, NavItem] = {}


def add_item(endpoint: str, label: str, *, order: int, count: Callable[[], int] | None = None) -> None:
    """Add (or replace) the item for `endpoint` (with `count`, the number shown beside its label)."""
    NAV[endpoint] = NavItem(endpoint, label, order, count)


def items() -> list[NavItem]:
    """The items of this app, in order."""
    known = current_app.view_functions
    return sorted((item for item in NAV.values() if item.endpoint in known), key=lambda i: (i.order, i.label))


add_item("portal.home", "Home", order=0)
add_item("portal.account", "Account", order=100)

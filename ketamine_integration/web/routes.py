"""Routes declared in one module and added to a blueprint made in another, by an explicit call.

A blueprint split over several modules would otherwise get its routes by importing a module for
its side effects; here the module lists its routes (`routes.route(...)`, as `bp.route`) and the
blueprint's own module adds them (`routes.add_to(bp)`), where a reader sees it.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint


class Routes:
    """Views waiting to join a blueprint: (rule, view, options) in the order declared."""

    def __init__(self) -> None:
        self._declared: list[tuple[str, Callable[..., Any], dict]] = []

    def route(self, rule: str, **options):
        """As Blueprint.route: the endpoint is the view's name unless `endpoint=` says otherwise."""
        def decorate(view):
            self._declared.append((rule, view, options))
            return view
        return decorate

    def add_to(self, bp: Blueprint) -> None:
        for rule, view, options in self._declared:
            bp.add_url_rule(rule, view_func=view, **options)

"""Absolute links into the app for staff emails, made from KI_APP_URL: a worker's job has no request
to take a host from, and a request's own host may be an internal name behind the proxy."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import Flask, current_app
from werkzeug.routing import MapAdapter


def url_adapter(app: Flask) -> MapAdapter:
    """The app's URL map bound to KI_APP_URL's scheme, host and path."""
    parts = urlsplit(app.config["KI_APP_URL"])
    return app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)


def app_link(endpoint: str, **values) -> str:
    """The absolute address of an endpoint of the app, as staff open it."""
    return url_adapter(current_app).build(endpoint, values, force_external=True)


@contextmanager
def linking_context(app: Flask) -> Iterator[None]:
    """An app context (for a job of the worker) in which url_for builds absolute links to
    KI_APP_URL, so the home page's own link functions serve the daily summary unchanged."""
    context = app.app_context()
    context.url_adapter = url_adapter(app)
    with context:
        yield

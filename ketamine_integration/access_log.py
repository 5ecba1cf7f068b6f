"""The servers' logs without credentials or search terms: calendar-feed secrets masked, query
strings dropped, in the development server's request log and in gunicorn's access and error logs.

A feed address is a credential (the database keeps only its hash), and query strings carry
patient searches (`/patients/?q=Umber`), which the audit trail deliberately leaves out. Every
query string is dropped, not only those of patient routes: a rule by route would let the next
route's filters through, and the log needs none of them to say which page was asked for.
"""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

MASK = "****"
#: /feeds/<secret>.ics (calendars.feed_ics): the secret, up to the next delimiter; ".ics" is kept
_FEED_SECRET = re.compile(r"(/feeds/)[^/?#\s\"']+?(\.ics)?(?=[/?#\s\"']|$)")
#: a query string: from "?" to the end of the URL it belongs to
_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    """`text` with every feed secret masked and every query string removed."""
    masked = _FEED_SECRET.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2) or ''}", text)
    return _QUERY.sub("", masked)


class RedactingFilter(logging.Filter):
    """Rewrites a record's finished message, wherever in it the URL appears."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def register() -> None:
    """The development server (`flask run`) logs each request to the 'werkzeug' logger; the
    filter goes on that logger itself, so every handler it ever gets sees the cleaned line."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger (gunicorn.conf.py names it): each access-log atom is cleaned, so any
    access_log_format is safe, and the error log (which names the URI of a failed request)
    gets the same filter as the development server's log."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if not any(isinstance(f, RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        cleaned = {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
        cleaned["q"] = ""                    # %(q)s is the query string alone, without its "?"
        cleaned["{query_string}e"] = ""
        return cleaned

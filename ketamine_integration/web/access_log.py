"""The servers' logs without credentials, search terms or stored values: calendar-feed secrets
masked and query strings dropped in the development server's request log and in gunicorn's
access and error logs; the app's own error lines get tracebacks without database values.

A feed address is a credential (the database keeps only its hash), and query strings carry
patient searches (`/patients/?q=Umber`), which the audit trail deliberately leaves out. Every
query string is dropped, not only those of patient routes: a rule by route would let the next
route's filters through, and the log needs none of them to say which page was asked for.
A path is judged as the router reads it, percent-decoded (repeatedly) and without regard to
case: `/%66eeds/…`, `/feeds%2F…`, `/FEEDS/…` and `/patients/%3Fq=…` are all caught.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import quote, unquote

from gunicorn.glogging import Logger as GunicornLogger

from .error_log import describe, safe_traceback

MASK = "****"
#: how many rounds of percent-decoding a path gets before it is judged (stable well before that)
DECODE_ROUNDS = 8
#: characters a logged path keeps as they are; anything else (spaces, quotes, control
#: characters, non-ASCII) is percent-encoded, so a decoded path cannot forge a log line
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
#: characters that may wrap a URL in a log line: kept around it, not judged as part of it
_WRAPPERS = "\"'<>()[]{},"
_ANY_TOKEN = re.compile(r"\S+")


def _decoded(text: str) -> str:
    for _ in range(DECODE_ROUNDS):
        once = unquote(text, errors="replace")
        if once == text:
            break
        text = once
    return text


#: path segments after which every segment is a secret: calendar-feed addresses, and the patient
#: portal's invitation links (`/portal/accept/<token>`), which are credentials until used
SECRET_PARENTS = ("feeds", "accept")


def _names_feeds(segment: str) -> bool:
    letters = "".join(ch for ch in segment.casefold() if ch.isalnum())
    return any(parent in letters for parent in SECRET_PARENTS)


def _masked(segment: str) -> str:
    if not segment or segment.isdigit():      # empty (a trailing slash) or a database id
        return segment
    return MASK + (".ics" if segment.casefold().endswith(".ics") else "")


def redacted_path(path: str) -> str:
    """`path` (or a URL) as the log may show it: decoded, cut at "?" or "#", every segment after
    one naming "feeds" masked, and re-encoded where a character could forge a log line."""
    decoded = _decoded(path)
    for mark in "?#":
        decoded = decoded.split(mark, 1)[0]
    segments, after_feeds = [], False
    for segment in decoded.split("/"):
        segments.append(_masked(segment) if after_feeds else segment)
        after_feeds = after_feeds or _names_feeds(segment)
    return quote("/".join(segments), safe=_PATH_SAFE)


def _redacted_token(match: re.Match) -> str:
    token = match.group(0)
    core = token.strip(_WRAPPERS)
    if not core:
        return token
    start = token.index(core)
    decoded = _decoded(core)
    if "?" not in decoded and "#" not in decoded and not any(map(_names_feeds, decoded.split("/")[:-1])):
        return token                          # nothing to hide: the line stays as written
    return token[:start] + redacted_path(core) + token[start + len(core):]


def redact(text: str) -> str:
    """`text` with every feed secret masked and every query string removed, word by word."""
    return _ANY_TOKEN.sub(_redacted_token, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's finished message, wherever in it a URL appears, and renders its
    traceback without database values (a handler's formatter then prints that text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            record.args = tuple(describe(a) if isinstance(a, BaseException) else a for a in record.args)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(safe_traceback(record.exc_info[1]))
        return True


def _add_filter(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactingFilter) for f in target.filters):
        target.addFilter(RedactingFilter())


def register(app) -> None:
    """The development server (`flask run`) logs each request to the 'werkzeug' logger, the app
    logs its errors to app.logger: each gets the filter, and so does every handler either can
    reach (Flask's own, the root logger's: gunicorn's `logconfig` installs those before it loads
    the app), so a record of a child logger is cleaned too."""
    from flask.logging import default_handler
    for logger in (logging.getLogger("werkzeug"), app.logger):
        _add_filter(logger)
    for handler in (default_handler, *app.logger.handlers, *logging.getLogger().handlers):
        _add_filter(handler)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger (gunicorn.conf.py names it): the request line is rebuilt from the
    method, the decoded and redacted path and the protocol (the raw line is never logged), each
    other access-log atom is cleaned, so any access_log_format is safe, and the error log (which
    names the URI of a failed request) gets the same filter as the development server's log."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        _add_filter(self.error_log)

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        cleaned = {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
        path = redacted_path(environ.get("PATH_INFO") or "/")
        cleaned["r"] = f"{environ.get('REQUEST_METHOD', '-')} {path} {environ.get('SERVER_PROTOCOL', '-')}"
        cleaned["U"] = cleaned["{path_info}e"] = cleaned["{raw_uri}e"] = path
        cleaned["q"] = ""                    # %(q)s is the query string alone, without its "?"
        cleaned["{query_string}e"] = ""
        return cleaned

"""Telehealth video links: what a room address or a clinic address template may be, and the link a
session gets from them. Pure: the caller hands in the template, the room and the session's values."""
from __future__ import annotations

import re
import string
from urllib.parse import quote, unquote, urlsplit

from .reminders import clinical_words_in

#: the longest room address or template kept (the settings' column holds 200 characters)
MAX_LENGTH = 200
#: what a clinic template may name, and what each stands for (the settings page and README list these)
PLACEHOLDERS = {
    "appointment": "a random, unguessable code of the session (not its number in the app); it stays the "
                   "same when the session is moved",
    "clinician": "the clinician's name and a number, e.g. hazel-quint-7 (the same for all their sessions)",
}
#: values standing in for the placeholders while a template is checked (the longest each can be)
_SAMPLE = {"appointment": "A" * 22, "clinician": "clinician-1"}


class BadVideoAddress(ValueError):
    """An address or template the clinic cannot use; the message says why, as a field error."""


def check_room_url(url: str) -> str:
    """A clinician's own room address, trimmed: https, a host, no placeholders, at most MAX_LENGTH."""
    url = url.strip()
    if "{" in url or "}" in url:
        raise BadVideoAddress("A personal room address is used as it is: remove the { } placeholders "
                              "(they belong in the clinic's address template).")
    _check_address(url)
    _check_discreet(url)
    return url


def check_template(template: str) -> str:
    """The clinic's address template, trimmed: https, a host, only known placeholders (at least one,
    so that sessions do not all share one room), at most MAX_LENGTH characters."""
    template = template.strip()
    names = _placeholders(template)
    unknown = sorted(names - PLACEHOLDERS.keys())
    if unknown:
        raise BadVideoAddress(f"Unknown placeholder {', '.join('{' + n + '}' for n in unknown)}: use "
                              f"{' or '.join('{' + n + '}' for n in PLACEHOLDERS)}.")
    if not names:
        raise BadVideoAddress("Add {appointment} (a room per session) or {clinician} (a room per clinician): "
                              "without one, every session would share the same room.")
    _check_address(template, filled=template.format_map(_SAMPLE))
    _check_discreet(template)
    return template


def _placeholders(template: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise BadVideoAddress("A { has no matching } (or the other way round): write placeholders as "
                              "{appointment} or {clinician}.") from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or spec or conversion or not re.fullmatch(r"[a-z_]+", name):
            raise BadVideoAddress(f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                                  "is not a placeholder: write {appointment} or {clinician}.")
        names.add(name)
    return names


def _check_address(text: str, *, filled: str | None = None) -> None:
    if len(text) > MAX_LENGTH:
        raise BadVideoAddress(f"At most {MAX_LENGTH} characters (this one has {len(text)}).")
    url = filled or text
    if re.search(r"\s", url):
        raise BadVideoAddress("An address has no spaces.")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise BadVideoAddress("Use an https:// address: the video service must be reached encrypted.")
    if not parts.hostname or "." not in parts.hostname:
        raise BadVideoAddress("Give the whole address, with the video service's host, e.g. "
                              "https://video.example.org/room.")
    if parts.username or parts.password:
        raise BadVideoAddress("Leave the user name and password out of the address.")


def _check_discreet(text: str) -> None:
    """A link goes into patients' reminders and invitations: no clinical word in it, host and path
    included (domain.reminders.clinical_words_in, which reads inside words and addresses)."""
    found = clinical_words_in(unquote(text))  # as the address bar shows it: %6Betamine is "ketamine"
    if found:
        words = ", ".join(f"“{w}”" for w in dict.fromkeys(found))
        raise BadVideoAddress("The link goes into patients' reminders and invitations, read by whoever sees "
                              f"their phone or mailbox: use an address without {words}.")


def clinician_slug(full_name: str, user_id: int) -> str:
    """{clinician}: the name in lower-case words joined by dashes, then the user's number (names repeat)."""
    words = re.findall(r"[a-z0-9]+", full_name.lower())
    return "-".join(words[:4] + [str(user_id)])


def fill_template(template: str, *, token: str, clinician_slug: str) -> str:
    """The link a session gets from the clinic's (already checked) template."""
    return template.format_map({"appointment": quote(token, safe=""), "clinician": quote(clinician_slug, safe="")})


def video_link(*, telehealth: bool, token: str | None, room_url: str | None, template: str | None,
               clinician_slug: str) -> str | None:
    """A session's link: the clinician's own room, else the clinic's template filled in; None for a
    session in person, or when neither is set (or an old session has no code)."""
    if not telehealth:
        return None
    if room_url:
        return room_url
    if template and token:
        return fill_template(template, token=token, clinician_slug=clinician_slug)
    return None

"""The forms a protocol's preparation names (`preparation.forms`), checked against the form library.

The two libraries are read apart (protocols/ and forms/ change separately), so the check runs on
what both folders hold now; a course's snapshot is never re-checked: its forms are the ones asked
for at enrolment (issue 26).
"""
from __future__ import annotations

from .form_library import FormLibrary
from .protocol_library import LibraryEntry, ProtocolLibrary
from .protocols import Protocol


def form_problems(protocol: Protocol, forms: FormLibrary) -> list[tuple[str, str]]:
    """(field path, message) for each form of `preparation.forms` the form library cannot give: unknown
    (or its file broken), or a consent whose routes exclude the protocol's route."""
    newest = {form.id: form for form in forms.newest()}
    problems = []
    for number, form_id in enumerate(protocol.preparation.forms):
        where = f"preparation.forms[{number}]"
        form = newest.get(form_id)
        if form is None:
            problems.append((where, f"{form_id!r} is not a usable form of the form library (forms/; "
                                    "`flask forms check` lists the files and their problems)"))
        elif form.routes and protocol.route not in form.routes:
            problems.append((where, f"{form_id} is a consent to {', '.join(form.routes)} treatment; this "
                                    f"protocol's route is {protocol.route}"))
    return problems


def with_forms(library: ProtocolLibrary, forms: FormLibrary) -> ProtocolLibrary:
    """The library with each protocol's forms checked: a protocol naming a form that cannot be used, or a
    consent to another route, is listed with its problems and offered to nobody."""
    entries = []
    for entry in library.entries:
        problems = form_problems(entry.protocol, forms) if entry.valid else []
        if problems:
            entry = LibraryEntry(path=entry.path, protocol=entry.protocol, content_hash=entry.content_hash,
                                 definition=entry.definition,
                                 problems=tuple(f"{entry.path.name}: {path}: {message}" for path, message in problems))
        entries.append(entry)
    return ProtocolLibrary(entries=entries)

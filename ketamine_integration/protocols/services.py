"""The clinic's protocol library and the registered versions courses are pinned to."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.protocol_forms import with_forms
from ..domain.protocol_library import LibraryEntry, ProtocolLibrary
from ..domain.protocols import Protocol, canonical_json, validate_definition
from ..db.errors import DomainError
from ..extensions import db
from .file_cache import current
from .forms import current_forms
from .models import ProtocolVersion


def current_library() -> ProtocolLibrary:
    """The library as the files are now; re-read only when a file changed (cheap stat calls). Each
    protocol's forms are checked against the form library as it is now (a few look-ups)."""
    return with_forms(current("PROTOCOLS_DIR", ProtocolLibrary.load), current_forms())


def fetch_registered(protocol_id: str, version: int) -> ProtocolVersion | None:
    return db.session.scalar(select(ProtocolVersion).where(
        ProtocolVersion.protocol_id == protocol_id, ProtocolVersion.version == version))


def changed_without_new_version(entry: LibraryEntry, registered: ProtocolVersion | None) -> bool:
    return registered is not None and entry.valid and registered.content_hash != entry.content_hash


def refusal_for(entry: LibraryEntry, registered: ProtocolVersion | None) -> str | None:
    if changed_without_new_version(entry, registered):
        return (f"{entry.path.name}: version: {entry.protocol.id} version {entry.protocol.version} "
                "is already in use with different content; raise the version number to change it")
    return None


def register_version(entry: LibraryEntry) -> ProtocolVersion:
    """The registered snapshot for a valid file, creating it on first use."""
    protocol = entry.protocol
    registered = fetch_registered(*protocol.key)
    if registered is None:
        try:
            with db.session.begin_nested():
                registered = ProtocolVersion(
                    protocol_id=protocol.id, version=protocol.version, name=protocol.name,
                    content_hash=entry.content_hash, definition_json=canonical_json(entry.definition),
                    source_file=entry.path.name)
                db.session.add(registered)
        except IntegrityError:
            # Another enrolment registered it a moment ago: use theirs (and compare hashes).
            registered = fetch_registered(*protocol.key)
    problem = refusal_for(entry, registered)
    if problem:
        raise DomainError({"protocol": problem})
    return registered


@lru_cache(maxsize=64)
def _parse_snapshot(content_hash: str, definition_json: str) -> Protocol:
    return validate_definition(json.loads(definition_json), f"snapshot {content_hash[:12]}")


def protocol_of(version: ProtocolVersion) -> Protocol:
    """The typed protocol a course follows, from its snapshot (cached by content hash)."""
    return _parse_snapshot(version.content_hash, version.definition_json)


@dataclass(frozen=True)
class LibraryRow:
    """One line of the protocols page: a file, or a registered version no file holds any more."""

    protocol_id: str
    version: int
    name: str
    entry: LibraryEntry | None
    registered: ProtocolVersion | None
    course_count: int
    refusal: str | None

    @property
    def usable(self) -> bool:
        return self.entry is not None and self.entry.valid and self.refusal is None


def library_overview(counts: dict[int, int]) -> tuple[list[LibraryRow], list[LibraryEntry]]:
    """(rows per protocol version, files that could not be read as a protocol); `counts`: the
    courses on each registered version, by its id (courses sit above protocols and count them)."""
    registered = {(v.protocol_id, v.version): v for v in db.session.scalars(select(ProtocolVersion))}
    library = current_library()
    rows, seen = [], set()
    for entry in library.valid_entries():
        key = entry.protocol.key
        seen.add(key)
        reg = registered.get(key)
        rows.append(LibraryRow(key[0], key[1], entry.protocol.name, entry, reg,
                               counts.get(reg.id, 0) if reg else 0, refusal_for(entry, reg)))
    for key, reg in registered.items():
        if key not in seen:
            rows.append(LibraryRow(key[0], key[1], reg.name, None, reg, counts.get(reg.id, 0), None))
    rows.sort(key=lambda r: (r.name, -r.version))
    invalid = [e for e in library.entries if not e.valid]
    return rows, invalid


def enrolable_entries() -> list[LibraryEntry]:
    """Protocols a new course may start on: newest valid version, not refused."""
    return [e for e in current_library().newest()
            if refusal_for(e, fetch_registered(*e.protocol.key)) is None]


def newest_version(protocol_id: str) -> int | None:
    """The newest valid version of a protocol in the library (what a new course starts on), or None."""
    return next((e.protocol.version for e in current_library().newest() if e.protocol.id == protocol_id), None)

"""The right-of-access zip: the files, and a manifest listing each with its size and SHA-256.

Built in memory under a ceiling (MAX_ZIP_BYTES): the files are the summary PDF, the coordination reports'
PDFs as sent and the FHIR bundle, each already bounded by the record it comes from; a record whose copy
would pass the ceiling is refused before anything is written, with a message saying so.
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

from ..db.errors import DomainError

#: the largest zip the app assembles in one request (a clinic's record runs to a few MB; the reports'
#: PDFs are most of it)
MAX_ZIP_BYTES = 50 * 1024 * 1024
SUMMARY_PATH = "record-summary.pdf"
FHIR_PATH = "fhir/bundle.json"
MANIFEST_PATH = "manifest.json"
#: a fixed timestamp inside the zip, so the same files make the same zip (the manifest carries the real time)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Archive:
    data: bytes
    sha256: str
    #: [{"path", "bytes", "sha256"}] of every file but the manifest itself
    files: list[dict]


def _entry(path: str, content: bytes) -> dict:
    return {"path": path, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def build_zip(files: list[tuple[str, bytes]], *, about: dict) -> Archive:
    """The zip of `files` (path, content) and manifest.json (`about`: who, when, what is left out, and the
    files' list). Refused (DomainError) past MAX_ZIP_BYTES."""
    if sum(len(content) for _path, content in files) > MAX_ZIP_BYTES:
        raise DomainError(f"This record's copy would be larger than {MAX_ZIP_BYTES // (1024 * 1024)} MB, more "
                          "than the app assembles at once. Nothing was made; please tell the clinic's admin.")
    listed = [_entry(path, content) for path, content in files]
    manifest = json.dumps({**about, "files": listed}, indent=2, ensure_ascii=False).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, content in [*files, (MANIFEST_PATH, manifest)]:
            archive.writestr(zipfile.ZipInfo(path, date_time=ZIP_TIME), content,
                             compress_type=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    return Archive(data=data, sha256=hashlib.sha256(data).hexdigest(), files=listed)


def fhir_file(bundle: dict) -> tuple[str, bytes]:
    return FHIR_PATH, json.dumps(bundle, indent=2, ensure_ascii=False, default=str).encode()

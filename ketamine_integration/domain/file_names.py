"""What a downloaded document is called: its kind, the patient's MRN (and name, where the clinic
chooses), and its date in the clinic's time zone; ASCII letters, digits and dashes only, so every
browser, disk and mail program keeps it as it is."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

_NOT_SAFE = re.compile(r"[^A-Za-z0-9]+")
#: characters one part of a file name keeps (a long name is cut, never the date)
PART_LENGTH = 60


def file_part(text: str) -> str:
    """`text` as part of a file name: accents dropped (Zoë -> Zoe), any run of other characters one
    dash, no dash at either end ("" when nothing is left)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_SAFE.sub("-", plain).strip("-")[:PART_LENGTH].strip("-")


def document_file_name(kind: str, mrn: str, day: date, *, name: str | None = None, extension: str = "pdf") -> str:
    """coordination-report-KI-000123-2026-12-03.pdf; with `name`: coordination-report-KI-000123-Ada-Stone-2026-12-03.pdf."""
    parts = [kind, file_part(mrn) or "no-MRN"]
    if name and file_part(name):
        parts.append(file_part(name))
    return "-".join([*parts, day.isoformat()]) + f".{extension}"

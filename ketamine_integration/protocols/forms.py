"""The clinic's intake and consent forms as the app reads them: the files of FORMS_DIR, re-read only
when one changed (the protocol library's rule, protocols.services.current_library).

Form definitions are clinic documents, not patient data: reading them is not audited (a patient's
answers, when the portal asks for them, will be).
"""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..domain.form_library import SUFFIXES, FormLibrary, load_folder


def current_forms() -> FormLibrary:
    """Every form file with its form or its problems; a broken file is listed, never offered."""
    directory = Path(current_app.config["FORMS_DIR"])
    stamp = (str(directory.resolve()), tuple(sorted(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()
        if p.suffix in SUFFIXES and p.is_file()))) if directory.is_dir() else ()
    cache = current_app.extensions.setdefault("form_library_cache", {})
    if cache.get("stamp") != stamp:
        cache.update(stamp=stamp, library=load_folder(directory))
    return cache["library"]

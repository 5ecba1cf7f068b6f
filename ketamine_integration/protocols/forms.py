"""The clinic's intake and consent forms as the app reads them: the files of FORMS_DIR, re-read only
when one changed (the protocol library's rule, protocols.services.current_library).

Form definitions are clinic documents, not patient data: reading them is not audited (a patient's
answers, when the portal asks for them, will be).
"""
from __future__ import annotations

from ..domain.form_library import FormLibrary, load_folder
from .file_cache import current


def current_forms() -> FormLibrary:
    """Every form file with its form or its problems; a broken file is listed, never offered."""
    return current("FORMS_DIR", load_folder)

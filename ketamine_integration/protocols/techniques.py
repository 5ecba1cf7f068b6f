"""The clinic's technique vocabulary as the app reads it: the files of TECHNIQUES_DIR, re-read only
when one changed (the protocol library's rule, protocols.services.current_library)."""
from __future__ import annotations

from ..domain.techniques import Vocabulary, VocabularyLibrary, load_folder
from .file_cache import current


def current_library() -> VocabularyLibrary:
    """The vocabulary and every file with its problems; a broken file is left out, the rest used."""
    return current("TECHNIQUES_DIR", load_folder)


def current_vocabulary() -> Vocabulary:
    return current_library().vocabulary

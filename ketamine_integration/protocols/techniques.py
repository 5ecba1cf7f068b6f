"""The clinic's technique vocabulary as the app reads it: the files of TECHNIQUES_DIR, re-read only
when one changed (the protocol library's rule, protocols.services.current_library)."""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..domain.techniques import SUFFIXES, Vocabulary, VocabularyLibrary, load_folder


def current_library() -> VocabularyLibrary:
    """The vocabulary and every file with its problems; a broken file is left out, the rest used."""
    directory = Path(current_app.config["TECHNIQUES_DIR"])
    stamp = (str(directory.resolve()), tuple(sorted(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()
        if p.suffix in SUFFIXES and p.is_file()))) if directory.is_dir() else ()
    cache = current_app.extensions.setdefault("technique_vocabulary_cache", {})
    if cache.get("stamp") != stamp:
        cache.update(stamp=stamp, library=load_folder(directory))
    return cache["library"]


def current_vocabulary() -> Vocabulary:
    return current_library().vocabulary

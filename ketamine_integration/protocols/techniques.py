"""The technique vocabulary the app uses: the files of TECHNIQUES_DIR, cached on their stamps.
A minimal version made by the treatment-plan branch; the vocabulary branch owns the full one."""
from __future__ import annotations

from pathlib import Path

import yaml
from flask import current_app

from ..domain.techniques import Vocabulary, VocabularyError, parse_vocabulary
from ..shipped import shipped_folder

_cache: dict[tuple, Vocabulary] = {}


def _folder() -> Path:
    return Path(current_app.config.get("TECHNIQUES_DIR") or shipped_folder("vocabularies"))


def current_vocabulary() -> Vocabulary:
    """The vocabulary from every readable file; a broken file is logged and left out."""
    files = sorted(_folder().glob("*.yaml"))
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if stamp not in _cache:
        parsed = []
        for path in files:
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
                parse_vocabulary([*parsed, (path.name, data)])
            except (yaml.YAMLError, VocabularyError, OSError, AttributeError, TypeError) as problem:
                current_app.logger.warning("technique vocabulary %s left out: %s", path.name, problem)
                continue
            parsed.append((path.name, data))
        _cache.clear()
        _cache[stamp] = parse_vocabulary(parsed)
    return _cache[stamp]

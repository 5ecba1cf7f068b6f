"""The clinic's data files as the app reads them (protocols, the technique vocabulary, forms): a library
re-read only when one of its files changed, judged by cheap stat calls on each request."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app

from ..domain.yaml_shape import yaml_files

Library = TypeVar("Library")


def current(config_key: str, load: Callable[[Path], Library]) -> Library:
    """load(the folder in config[config_key]), kept per app until a file is added, removed or changed."""
    directory = Path(current_app.config[config_key])
    stamp = (str(directory.resolve()), tuple((p.name, *_stat_of(p)) for p in yaml_files(directory)))
    cache = current_app.extensions.setdefault("data_file_cache", {}).setdefault(config_key, {})
    if cache.get("stamp") != stamp:
        cache.update(stamp=stamp, library=load(directory))
    return cache["library"]


def _stat_of(path: Path) -> tuple[int, int]:
    """(modified, size) of the file, else of the link itself when it leads nowhere, else (0, -1) for a file gone
    since the folder was listed: the library lists such a file broken, and a request never fails on it."""
    for follow in (True, False):
        try:
            details = path.stat(follow_symlinks=follow)
        except OSError:
            continue
        return details.st_mtime_ns, details.st_size
    return 0, -1

"""The clinic's data files as the app reads them (protocols, the technique vocabulary, forms): a library
re-read only when one of its files changed, judged by cheap stat calls once per app context (a request,
a command, a factory's `with app.app_context()`)."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from flask import current_app, g

from ..domain.yaml_shape import yaml_entries

Library = TypeVar("Library")


def current(config_key: str, load: Callable[[Path], Library]) -> Library:
    """load(the folder in config[config_key]), kept per app until a file is added, removed or changed.

    The folder is looked at the first time an app context asks (listing it and a stat of every file cost
    more than everything else a page does with the library, and a page asks many times); the library found
    then serves the rest of that context, so one request reads one version of the files throughout, and a
    file changed between requests is seen by the next one."""
    seen = g.setdefault("_data_file_libraries", {})
    key = (config_key, current_app.config[config_key])
    if key not in seen:
        seen[key] = _checked(config_key, load)
    return seen[key]


def _checked(config_key: str, load: Callable[[Path], Library]) -> Library:
    """The app's library of the folder, read again when its files' stamp changed since it was read."""
    directory = Path(current_app.config[config_key])
    libraries = current_app.extensions.setdefault("data_file_cache", {})
    held = libraries.get(config_key)  # (stamp, library): a pair, so a concurrent re-read never mixes two
    stamp = _stamp(directory)
    if held is None or held[0] != stamp:
        held = libraries[config_key] = (stamp, load(directory))
    return held[1]


def _stamp(directory: Path) -> tuple:
    """The folder's real path and (name, modified, size) of each of its data files, by name."""
    return os.path.realpath(directory), tuple((e.name, *_stat_of(e)) for e in yaml_entries(directory))


def _stat_of(entry: os.DirEntry) -> tuple[int, int]:
    """(modified, size) of the file, else of the link itself when it leads nowhere, else (0, -1) for a file gone
    since the folder was listed: the library lists such a file broken, and a request never fails on it."""
    for follow in (True, False):
        try:
            details = entry.stat(follow_symlinks=follow)
        except OSError:
            continue
        return details.st_mtime_ns, details.st_size
    return 0, -1

"""Reading one data file of the app's folders (protocols, the technique vocabulary, forms) within a size limit.

Only a regular file is read, never a FIFO or a device: opening a FIFO waits for a writer forever, and a link to
/dev/zero reports a size of 0 and never ends (attacker review of issue 26, finding 5). A link is followed only to
a file inside the folder it is listed in, so a data folder cannot be made to read any other file on the server.
The size check reads at most the limit and one byte, whatever the file's stat says.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

#: a FIFO opens at once instead of waiting for a writer; no link followed at the last step once resolved
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)


class DataFileRefused(Exception):
    """Why a data file was not read, worded to follow its name ("is not UTF-8 text")."""


def read_data_text(path: Path, max_bytes: int) -> str:
    """The file's text, or DataFileRefused: not a regular file, a link out of its folder, over `max_bytes`,
    unreadable, or not UTF-8."""
    real = _resolved_within_folder(Path(path))
    try:
        descriptor = os.open(real, _OPEN_FLAGS)
    except OSError as err:
        raise DataFileRefused(f"cannot be read: {err.strerror}") from None
    with os.fdopen(descriptor, "rb") as file:
        details = os.fstat(file.fileno())
        if not stat.S_ISREG(details.st_mode):
            raise DataFileRefused("is not a regular file (a pipe, a device or a folder); only regular files "
                                  "are read")
        if details.st_size > max_bytes:
            raise DataFileRefused(f"is {details.st_size:,} bytes; the limit is {max_bytes:,}")
        try:
            data = file.read(max_bytes + 1)
        except OSError as err:
            raise DataFileRefused(f"cannot be read: {err.strerror}") from None
    if len(data) > max_bytes:  # it grew after its size was read
        raise DataFileRefused(f"is more than {max_bytes:,} bytes; the limit is {max_bytes:,}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFileRefused("is not UTF-8 text") from None


def _resolved_within_folder(path: Path) -> Path:
    """The file's real path; refused when a link takes it outside the folder it is listed in."""
    folder = path.absolute().parent.resolve()
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as err:  # missing, or a loop of links
        raise DataFileRefused(f"cannot be read: {getattr(err, 'strerror', None) or 'a loop of links'}") from None
    if not real.is_relative_to(folder):
        raise DataFileRefused("is a link to a file outside its folder; only links to files in the folder are "
                              "followed")
    return real

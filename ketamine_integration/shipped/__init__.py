"""Where the app finds the folders it ships: templates, migrations, protocol, vocabulary and form files.

A checkout keeps them at its top level (`templates/`, `migrations/`, `protocols/`, `vocabularies/`, `forms/`, beside the
package); the wheel carries them inside the package (setup.py maps them at build time). An
installed package reads only its own folders: it looks beside itself only when it sits in a
checkout, recognised by the project's pyproject.toml there.
"""
from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

#: top-level folder of the checkout -> the package folder it becomes in the wheel (setup.py reads
#: this table; `protocols` is the subpackage of that name, so the protocol files go elsewhere)
SHIPPED = {"templates": "templates", "migrations": "migrations", "protocols": "protocol_files",
           "vocabularies": "vocabulary_files", "forms": "form_files"}


class MissingFolder(RuntimeError):
    """A shipped folder is neither in the package nor in a checkout around it."""


def shipped_folder(name: str) -> Path:
    """The shipped folder `name` (`templates`, `migrations`, `protocols`, `vocabularies`, `forms`): the package's own
    copy when installed from a wheel, else the checkout's top-level folder."""
    installed = PACKAGE / SHIPPED[name]
    if installed.is_dir():
        return installed
    checkout = PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    raise MissingFolder(f"{name}/ is missing: neither {installed} (installed from a wheel) nor "
                        f"{checkout / name} (a checkout) exists; rebuild or reinstall the package")

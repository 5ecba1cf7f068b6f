"""Old import paths that landed migrations still use.

Migrations are never edited once they have landed, and some import the column type and the
digest function by the module paths they had before the plumbing moved into `db/`
(`ketamine_integration.db_types`, `ketamine_integration.append_only`). Registering those names
in `sys.modules` keeps the migrations importable; no application code uses them, and new
migrations import from `ketamine_integration.db`.
"""
from __future__ import annotations

import sys

from . import append_only, types

LEGACY_MODULES = {
    "ketamine_integration.db_types": types,
    "ketamine_integration.append_only": append_only,
}

for _name, _module in LEGACY_MODULES.items():
    sys.modules.setdefault(_name, _module)

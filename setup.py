"""Build: the wheel carries the top-level templates/, migrations/, protocols/, vocabularies/ and forms/ inside the package.

The checkout keeps them at the top level, where the project fixed them; here each is mapped
to a folder of `ketamine_integration`, where ketamine_integration/shipped/__init__.py (which holds the
table) finds it when installed. Metadata, dependencies and which files of each folder are
carried (the package-data globs) are in pyproject.toml.
"""
import runpy
from pathlib import Path

from setuptools import find_namespace_packages, setup

#: top-level folder -> the package folder it becomes in the wheel, from the module that reads them
SHIPPED = runpy.run_path(
    str(Path(__file__).parent / "ketamine_integration" / "shipped" / "__init__.py"))["SHIPPED"]
NOT_PACKAGES = ["*.__pycache__", "*.__pycache__.*", "__pycache__"]


def packages() -> list[str]:
    """The code packages, and every folder of the mapped ones (data folders are packages to
    setuptools: a folder it was not told about would be left out of the wheel, with a warning)."""
    found = find_namespace_packages(include=["ketamine_integration", "ketamine_integration.*"],
                                    exclude=NOT_PACKAGES)
    for folder, inside in SHIPPED.items():
        found.append(f"ketamine_integration.{inside}")
        found += [f"ketamine_integration.{inside}.{sub}"
                  for sub in find_namespace_packages(where=folder, exclude=NOT_PACKAGES)]
    return found


setup(
    packages=packages(),
    package_dir={f"ketamine_integration.{inside}": folder for folder, inside in SHIPPED.items()},
)

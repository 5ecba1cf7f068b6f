"""Where the export's FHIR bundle comes from: fhir/export.py's `patient_bundle` once the app has it."""
from __future__ import annotations

from .services import BundleSource


def fhir_bundle() -> BundleSource:
    """The function that gives a patient's FHIR Bundle, or None: this app version has no FHIR export yet, and
    a copy carries no bundle rather than a made-up one."""
    return None

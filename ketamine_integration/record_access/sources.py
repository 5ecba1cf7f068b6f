"""Where the export's FHIR bundle comes from: the FHIR export's `patient_bundle` (fhir/export.py), the same
Bundle the patient page's FHIR download gives, its resources validated (R4B models) before they are written."""
from __future__ import annotations

from ..fhir.export import validated_patient_bundle
from .services import BundleSource


def fhir_bundle() -> BundleSource:
    """The function that gives a patient's FHIR Bundle."""
    return validated_patient_bundle

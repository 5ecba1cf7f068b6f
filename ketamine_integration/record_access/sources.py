"""Where the export's FHIR bundle comes from: the FHIR export's `patient_bundle` (fhir/export.py), the same
Bundle the patient page's FHIR download gives, its resources validated (R4B models) before they are written."""
from __future__ import annotations

import logging

from ..db.errors import DomainError
from ..fhir.export import InvalidResource, patient_bundle
from .services import BundleSource

log = logging.getLogger(__name__)


def fhir_bundle() -> BundleSource:
    """The function that gives a patient's FHIR Bundle."""
    return _validated_bundle


def _validated_bundle(patient_id: int) -> dict:
    """The Bundle; a resource the FHIR library refuses (a mapping's bug) refuses the copy with a message,
    nothing made, rather than a copy without it or an error page."""
    try:
        return patient_bundle(patient_id)
    except InvalidResource as err:
        log.error("the FHIR bundle of patient %s did not validate: %s", patient_id, str(err)[:200])
        raise DomainError("The record's FHIR file could not be made, so no copy was made. Please tell the "
                          "clinic's admin; the error is in the server's log.") from err

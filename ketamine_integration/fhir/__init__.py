"""FHIR export: the record as FHIR R4 resources (validated with fhir.resources' R4B models), one
patient's Bundle and the clinic's NDJSON bulk files. Process notes are never read here."""

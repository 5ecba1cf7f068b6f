"""One patient's record as a FHIR Bundle (`patient_bundle`), and the clinic's record as NDJSON Bulk
Data files, one per resource type, written in batches so memory stays flat (`write_bulk`).

Every resource is validated with fhir.resources' R4B models (FHIR 4.3.0; README says why R4B for R4)
before it is written, and written as the library serialises it."""
from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class
from sqlalchemy import select

from ..accounts.models import User
from ..db.clinic_time import clinic_today
from ..db.errors import DomainError
from ..db.types import utcnow
from ..extensions import db
from ..patients.models import Patient
from . import codes as c, measures, people
from .sources import SOURCES, batches, patient_rows, user_batches

log = logging.getLogger(__name__)

PRACTITIONER_REF = re.compile(r'"Practitioner/practitioner-(\d+)"')


class InvalidResource(ValueError):
    """A resource the library refuses: a bug in a mapping, never written out."""


def validated(resource: dict):
    """The library's model of `resource`; InvalidResource (naming the resource) if it does not validate."""
    try:
        return get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except ValueError as err:
        raise InvalidResource(f"{resource['resourceType']}/{resource.get('id')}: {err}") from err


def _resources(source, rows, today) -> Iterator[dict]:
    for row in rows:
        for resource in source.to_fhir(row, today):
            if resource is not None:
                yield resource


@cache
def questionnaires_json() -> tuple[str, ...]:
    """The registry's Questionnaires, validated and serialised once a process: made from the measure
    registry alone (domain/measures.py), they are the same in every export. Validating and serialising
    the six again cost 0.13 s of every patient's Bundle, more than most patients' own resources."""
    return tuple(validated(q).model_dump_json() for q in measures.questionnaires())


def patient_resources(patient_id: int, today=None) -> list[dict]:
    """Every resource of one patient's record, validated and as the library serialises it, with the
    Questionnaires its answers follow and the Practitioners its resources name. LookupError: no such patient."""
    if db.session.get(Patient, patient_id) is None:
        raise LookupError(f"no patient {patient_id}")
    today = today or clinic_today()
    resources = [r for source in SOURCES for r in _resources(source, patient_rows(source, patient_id), today)]
    models = [validated(r) for r in resources]
    # The Practitioners named are read from the mappings' own dicts: serialising every validated model
    # to find them cost as much as validating it (fhir_core serialises element by element in Python).
    named = {int(pk) for r in resources for pk in PRACTITIONER_REF.findall(json.dumps(r, default=str))}
    users = db.session.scalars(select(User).where(User.id.in_(sorted(named))).order_by(User.id)).all()
    practitioners = [validated(people.practitioner_resource(u)) for u in users]
    return ([model.model_dump(mode="json") for model in practitioners]
            + [json.loads(text) for text in questionnaires_json()]
            + [model.model_dump(mode="json") for model in models])


def patient_bundle(patient_id: int) -> dict:
    """One patient's record as a FHIR Bundle (type collection), a JSON-ready dict."""
    entries = [{"resource": resource} for resource in patient_resources(patient_id)]
    bundle = {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
              "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
              "timestamp": utcnow().strftime("%Y-%m-%dT%H:%M:%S+00:00"), "entry": entries}
    return {**bundle, "meta": {"tag": [c.coding(c.BASE, "fhir-r4b-4.3.0", "Validated as FHIR 4.3.0 (R4B)")]}}


@dataclass
class BulkResult:
    """What a bulk export wrote: resources per type, and the batches read (the writer's steps)."""
    counts: dict[str, int] = field(default_factory=dict)
    batches: int = 0


class NdjsonFiles:
    """One open NDJSON file per resource type in `folder` (Bulk Data: `Type.ndjson`)."""

    def __init__(self, folder: Path):
        self.folder, self.files, self.counts = folder, {}, {}

    def write(self, model) -> None:
        self.write_json(model.get_resource_type(), model.model_dump_json())

    def write_json(self, kind: str, line: str) -> None:
        if kind not in self.files:
            self.files[kind] = (self.folder / f"{kind}.ndjson").open("w", encoding="utf-8")
            self.counts[kind] = 0
        self.files[kind].write(line + "\n")
        self.counts[kind] += 1

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()

    def remove(self) -> None:
        for handle in self.files.values():
            Path(handle.name).unlink(missing_ok=True)


def validated_patient_bundle(patient_id: int) -> dict:
    """patient_bundle(); a resource the FHIR library refuses (a mapping's bug) raises DomainError with a
    message for the user (the error itself in the server's log), never an error page or a Bundle without it."""
    try:
        return patient_bundle(patient_id)
    except InvalidResource as err:
        log.error("the FHIR bundle of patient %s did not validate: %s", patient_id, str(err)[:200])
        raise DomainError("The record's FHIR file could not be made, so no copy was made. Please tell the "
                          "clinic's admin; the error is in the server's log.") from err


def bulk_steps(folder: Path, *, batch: int | None = None, today=None) -> Iterator[BulkResult]:
    """Write the clinic's record to `folder`, yielding after each batch (the session emptied then:
    no batch's rows stay in memory). The last result yielded is the whole export's."""
    folder.mkdir(parents=True, exist_ok=True)
    today, files, result = today or clinic_today(), NdjsonFiles(folder), BulkResult()
    finished = False
    try:
        for line in questionnaires_json():
            files.write_json("Questionnaire", line)
        for users in user_batches(batch or 500):
            for user in users:
                files.write(validated(people.practitioner_resource(user)))
            yield _step(result, files)
        for source in SOURCES:
            for rows in batches(source, batch):
                for resource in _resources(source, rows, today):
                    files.write(validated(resource))
                yield _step(result, files)
        finished = True
    finally:
        files.close()
        if not finished:  # an export stopped part-way leaves no partial files to be taken for a whole one
            files.remove()
    result.counts = dict(sorted(files.counts.items()))
    yield result


def _step(result: BulkResult, files: NdjsonFiles) -> BulkResult:
    db.session.expunge_all()  # the batch's rows are written: let them go
    result.batches += 1
    result.counts = dict(files.counts)
    return result


def write_bulk(folder: Path, *, batch: int | None = None, today=None) -> BulkResult:
    result = BulkResult()
    for result in bulk_steps(folder, batch=batch, today=today):
        pass
    return result

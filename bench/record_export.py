"""The right-of-access copy's cost against the size of the record it copies (BENCHMARKS.md, Right of access):
the claim is that a copy costs in proportion to the record, never more.

    python -m bench.record_export [--repeat 3]

In the demo clinic (bench/databases.py keeps it), the patients with the smallest and the largest record
(signed notes, measures, signed doses and attended sessions counted together) each have their copy made
`repeat` times (content, PDF, FHIR bundle, zip: record_access.services, rolled back after each), on the same
process, in alternation; the least CPU of each is kept. Printed: the two sizes, the two CPU times and both
ratios (time largest / time smallest, size largest / size smallest); a time ratio at or under the size ratio
holds the claim (the fixed part, the PDF's page and the bundle's questionnaires, makes it smaller).
"""
from __future__ import annotations

import argparse
import logging
import time

from sqlalchemy import func, select

from . import databases
from .run import _demo


def _sizes() -> dict[int, int]:
    """Each patient's record size: signed notes + measures + signed doses + attended sessions."""
    from ketamine_integration.bookings.models import ATTENDED, Appointment
    from ketamine_integration.courses.models import TreatmentCourse
    from ketamine_integration.experience.models import SIGNED as DOSE_SIGNED, DosingSession
    from ketamine_integration.extensions import db
    from ketamine_integration.notes.models import SIGNED, MeasureResponse, SessionNote
    counts: dict[int, int] = {}
    queries = (select(SessionNote.patient_id, func.count()).where(SessionNote.status == SIGNED)
               .group_by(SessionNote.patient_id),
               select(MeasureResponse.patient_id, func.count()).group_by(MeasureResponse.patient_id),
               select(TreatmentCourse.patient_id, func.count()).join(DosingSession)
               .where(DosingSession.status == DOSE_SIGNED).group_by(TreatmentCourse.patient_id),
               select(Appointment.patient_id, func.count()).where(Appointment.status == ATTENDED)
               .group_by(Appointment.patient_id))
    for query in queries:
        for patient_id, count in db.session.execute(query):
            counts[patient_id] = counts.get(patient_id, 0) + count
    return counts


def _copy_cpu(patient_id: int, by) -> float:
    from ketamine_integration.db.clinic_time import clinic_today
    from ketamine_integration.db.types import utcnow
    from ketamine_integration.extensions import db
    from ketamine_integration.patients.models import Patient
    from ketamine_integration.record_access import services
    from ketamine_integration.record_access.sources import fhir_bundle
    patient = db.session.get(Patient, patient_id)
    now = utcnow()
    started = time.process_time()
    services.make_for_request(patient, services.Request(requested_by="patient", received_on=clinic_today(now),
                                                        delivery="in_person"), by=by, now=now, bundle=fhir_bundle())
    cpu = time.process_time() - started
    db.session.rollback()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    from ketamine_integration import create_app
    from ketamine_integration.accounts.models import THERAPIST, User
    from ketamine_integration.extensions import db
    uri, _ = databases.ensure(databases.demo_label(), _demo)
    app = create_app(databases.bench_settings(uri))
    with app.test_request_context():
        sizes = _sizes()
        smallest, largest = min(sizes, key=sizes.get), max(sizes, key=sizes.get)
        by = db.session.scalars(select(User)).all()
        therapist = next(u for u in by if u.has_role(THERAPIST))
        _copy_cpu(smallest, therapist)  # imports and first renders out of the measure
        best = {smallest: float("inf"), largest: float("inf")}
        for _ in range(args.repeat):
            for patient_id in (smallest, largest):
                best[patient_id] = min(best[patient_id], _copy_cpu(patient_id, therapist))
    print(f"record sizes: smallest {sizes[smallest]}, largest {sizes[largest]} "
          f"(size ratio {sizes[largest] / sizes[smallest]:.2f})")
    print(f"copy CPU: smallest {best[smallest]:.3f} s, largest {best[largest]:.3f} s "
          f"(time ratio {best[largest] / best[smallest]:.2f})")


if __name__ == "__main__":
    main()

"""db.locking.add_once, the insert a unique key allows once (a patient's check-in or practice log for
a day, a typed MRN): a row the key refuses raises the caller's field reasons and is not written,
while what the same transaction wrote before it stands."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from ketamine_integration.db.errors import DomainError
from ketamine_integration.db.locking import add_once
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient

REFUSAL = {"mrn": "Another patient already has this MRN."}


def _patient(mrn: str) -> Patient:
    return Patient(mrn=mrn, given_name="Testa", family_name="Onceonly", date_of_birth=date(1980, 5, 17))


@pytest.mark.both_engines
def test_a_row_the_unique_key_refuses_raises_the_reasons_and_keeps_the_rest(make):
    make.patient(mrn="ONCE-1")

    def arrange():
        kept = add_once(_patient("ONCE-2"), REFUSAL)
        assert kept.id is not None  # flushed: the caller may name it in its audit row at once
        with pytest.raises(DomainError) as refused:
            add_once(_patient("ONCE-1"), REFUSAL)
        assert refused.value.reasons == REFUSAL
    make.run(arrange)
    mrns = make.query(lambda: db.session.scalars(select(Patient.mrn).where(Patient.mrn.like("ONCE-%"))
                                                 .order_by(Patient.mrn)).all())
    assert mrns == ["ONCE-1", "ONCE-2"]
    assert make.query(lambda: db.session.scalar(select(func.count()).select_from(Patient)
                                                .where(Patient.family_name == "Onceonly"))) == 1

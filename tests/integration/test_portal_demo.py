"""The demo clinic's patient portal (issue 23, point 7 and "Done when"): three patients with
accounts, each enrolling at the first sign-in; one invitation waiting, one revoked; and no process
note, coordination note or session note text on any portal page of the demo patients."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ketamine_integration.coordination.models import CoordinationNote
from ketamine_integration.demo.portal import PORTAL_PASSWORD
from ketamine_integration.domain.portal import PENDING, REVOKED
from ketamine_integration.extensions import db
from ketamine_integration.notes.models import ProcessNote
from ketamine_integration.portal.invitations import portal_status
from ketamine_integration.portal.models import PortalAccount
from ketamine_integration.db.types import utcnow
from tests.conftest import Auth


@pytest.mark.demo_clinic
def test_the_demo_patients_sign_in_and_their_pages_carry_no_canary(make, app):
    accounts = make.query(lambda: db.session.scalars(select(PortalAccount).order_by(PortalAccount.id)).all())
    active = [a for a in accounts if a.password_hash]
    assert len(active) == 3 and all(a.second_factor is None for a in active)  # each enrols at first sign-in
    states = make.query(lambda: sorted(portal_status(a.patient_id, utcnow()).state for a in accounts
                                       if not a.password_hash))
    assert states == sorted([PENDING, REVOKED])
    # every process note and coordination note of the clinic is a canary: none may show on a portal page
    canaries = make.query(lambda: [text[:40] for text in db.session.scalars(select(ProcessNote.body))] +
                          [text[:40] for text in db.session.scalars(select(CoordinationNote.body))])
    assert canaries
    for account in active:
        client = app.test_client()
        patient = Auth(app, client)
        first = patient.post("/portal/sign-in", {"email": account.email, "password": PORTAL_PASSWORD})
        assert first.headers["Location"] == "/portal/enrol"
        make.run(lambda: setattr(db.session.get(PortalAccount, account.id), "second_factor", "totp"))
        patient.portal_sign_in(account.id)
        for url in ("/portal/", "/portal/account"):
            body = client.get(url).get_data(as_text=True)
            assert "Upcoming sessions" in body or url != "/portal/"
            assert not [c for c in canaries if c and c in body], url

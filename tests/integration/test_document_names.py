"""Issue 21, point 5: downloaded patient documents and the links to them name whose they are. A
report is coordination-report-<MRN>-<clinic date>.pdf; the patient's name goes in only when the clinic
chooses it (/settings/file-names, the admin's)."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.coordination.models import CoordinationReport
from ketamine_integration.domain.file_names import document_file_name, file_part
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import page_text
from tests.integration.test_coordination import _generate, _release, team  # noqa: F401  (the fixture)

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("text, part", [
    ("KI-000123", "KI-000123"),               # an MRN as the clinic assigns it
    ("Wren O'Coordinated", "Wren-O-Coordinated"),  # a quote: never inside the header's quotes
    ("Zoë Ñúñez", "Zoe-Nunez"),               # accents dropped, letters kept
    ('../"x"\r\n;y', "x-y"),                  # no path, no quote, no header break, no parameter
    ("李小龙", ""),                            # nothing ASCII is left: the part is left out
    ("a" * 80, "a" * 60),                     # a long name is cut
])
def test_a_file_name_part_keeps_ascii_letters_digits_and_single_dashes(text, part):
    assert file_part(text) == part


@pytest.mark.parametrize("mrn, name, expected", [
    ("KI-000123", None, "coordination-report-KI-000123-2026-12-03.pdf"),
    ("KI-000123", "Ada Stone", "coordination-report-KI-000123-Ada-Stone-2026-12-03.pdf"),
    ("KI-000123", "李小龙", "coordination-report-KI-000123-2026-12-03.pdf"),   # a name with no ASCII: left out
    ("", None, "coordination-report-no-MRN-2026-12-03.pdf"),                  # never two dashes in a row
])
def test_a_document_is_named_by_its_kind_mrn_name_if_chosen_and_date(mrn, name, expected):
    assert document_file_name("coordination-report", mrn, datetime(2026, 12, 3).date(), name=name) == expected


def _report(make):
    return make.query(lambda: db.session.scalars(select(CoordinationReport).order_by(CoordinationReport.id.desc()))
                      .first())


def _disposition(client, report_id):
    response = client.get(f"/reports/{report_id}.pdf")
    assert response.status_code == 200
    return response.headers["Content-Disposition"]


def test_a_report_downloads_named_by_mrn_and_date_and_its_links_say_whose(team, make, auth, client):  # noqa: F811
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing", "measures"]).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    report = _report(make)
    mrn = make.query(lambda: db.session.get(Patient, team["patient"]).mrn)
    day = report.created_at.replace(tzinfo=timezone.utc).astimezone(NY).date()     # the clinic's date
    assert _disposition(client, report.id) == f'attachment; filename="coordination-report-{mrn}-{day}.pdf"'
    assert (f"Coordination report on Wren O'Coordinated ({mrn}) for Orrin Vale"
            in page_text(client.get(f"/courses/{team['course']}/coordination")))
    auth.logout()
    auth.sign_in("pres")
    assert _disposition(client, report.id).endswith(f'-{day}.pdf"') and "Wren" not in _disposition(client, report.id)
    assert (f"Coordination report on Wren O'Coordinated ({mrn})," in page_text(client.get("/prescriber/")))


def test_the_admin_chooses_to_put_the_patients_name_in_file_names(team, make, auth, client):  # noqa: F811
    auth.sign_in("desk")
    assert _release(auth, team, ["dosing"]).status_code == 302
    assert client.get("/settings/file-names").status_code == 403          # staff: not a clinic setting of theirs
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    report = _report(make)
    auth.logout()
    make.user("admin", username="boss")
    auth.sign_in("boss")
    page = page_text(client.get("/settings/file-names"))
    assert "The MRN and the date only" in page and "coordination-report-KI-000123-Ada-Stone-2026-12-03.pdf" in page
    refused = auth.post("/settings/file-names", {"file_names": "everything"})
    assert refused.status_code == 422
    assert auth.post("/settings/file-names", {"file_names": "mrn_and_name"}).status_code == 302
    changed = make.query(lambda: db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "settings.file_names").order_by(AuditEvent.id)).all())
    assert [(e.outcome, e.detail) for e in changed] == [("failure", "refused"), ("success", "mrn_and_name")]
    auth.logout()
    auth.sign_in("ther")
    assert "-Wren-O-Coordinated-" in _disposition(client, report.id)

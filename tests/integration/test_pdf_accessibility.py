"""The PDFs the clinic sends are tagged PDF/UA-1 and discreet (issue 25, point 7): a structure tree
(headings, tables with header cells, charts as figures with alternate text), MarkInfo Marked, the
document language, XMP metadata claiming PDF/UA; a metadata title naming the record by MRN, never the
patient; the coordination report names its author with their contact and opens with the open safety
alerts. Read back with pypdf (the structure tree, the metadata) and with poppler's `pdftotext` (the
text in reading order, page by page)."""
import logging
import re
import shutil
import subprocess
from datetime import date, timedelta
from html import unescape
from io import BytesIO

import pytest
from pypdf import PdfReader
from pypdf.generic import IndirectObject
from sqlalchemy import select

from ketamine_integration.accounts.models import User
from ketamine_integration.clinic_settings.models import ClinicSetting
from ketamine_integration.coordination.models import CoordinationReport
from ketamine_integration.discharge.models import DischargeSummary
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from tests.conftest import IN_CI
from tests.integration.test_coordination import _generate, _release, team  # noqa: F401 (a fixture)
from tests.integration.test_discharge import _sign_summary, ended  # noqa: F401 (a fixture)
from tests.integration.test_dosing import _sign, form_time, local

CLINIC_PHONE = "(555) 010-0142"
ALL_CATEGORIES = ["treatment", "dosing", "measures", "attendance", "themes", "action_plan", "safety"]


def pdftotext(data: bytes, tmp_path, *pages: int) -> str:
    """The PDF's text in reading order (`pages`: first and last page), as poppler-utils extracts it."""
    if shutil.which("pdftotext") is None:
        reason = "pdftotext (Debian's poppler-utils, installed by `make browser-deps`) is not installed"
        if IN_CI:
            pytest.fail(f"CI must read the PDFs with pdftotext: {reason}")
        pytest.skip(reason)
    source = tmp_path / "document.pdf"
    source.write_bytes(data)
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(["pdftotext", "-enc", "UTF-8", *span, str(source), "-"], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def _resolve(obj):
    return obj.get_object() if isinstance(obj, IndirectObject) else obj


def structure(reader: PdfReader) -> list[dict]:
    """Every structure element of the tree, depth first: its tag and its attributes as pypdf reads them."""
    root = _resolve(reader.trailer["/Root"]["/StructTreeRoot"])
    found, stack = [], [root]
    while stack:
        node = _resolve(stack.pop())
        if not hasattr(node, "get"):
            continue  # a marked-content id
        if "/S" in node:
            found.append(node)
        kids = node.get("/K")
        kids = _resolve(kids) if kids is not None else []
        stack.extend(reversed(kids) if isinstance(kids, list) else [kids])
    return found


def tags(reader: PdfReader) -> list[str]:
    return [str(node["/S"]).lstrip("/") for node in structure(reader)]


def assert_tagged_pdf_ua(data: bytes, *, title: str, forbidden: tuple[str, ...]) -> PdfReader:
    """What makes a PDF tagged PDF/UA-1 and discreet: the checks shared by every document."""
    reader = PdfReader(BytesIO(data))
    catalog = reader.trailer["/Root"]
    assert "/StructTreeRoot" in catalog
    assert str(catalog["/MarkInfo"]["/Marked"]).lower() == "true"
    assert catalog["/Lang"] == "en"
    # readers show the title, not the file name
    assert str(catalog["/ViewerPreferences"]["/DisplayDocTitle"]).lower() == "true"
    xmp = _resolve(catalog["/Metadata"]).get_data().decode()
    assert 'pdfuaid:part="1"' in xmp, xmp[:400]
    assert reader.metadata.title == title and title in xmp
    metadata = " ".join(str(v) for v in reader.metadata.values()) + xmp
    for word in forbidden:
        assert word not in metadata, f"{word!r} in the PDF's metadata"
    found = tags(reader)
    assert found.count("H1") == 1 and "H2" in found and "P" in found
    return reader


@pytest.fixture
def clinic_phone(make):
    admin = make.user("admin", username="phoneadmin")
    make.run(lambda: db.session.add(ClinicSetting(key="clinic_phone", value=CLINIC_PHONE, updated_by_id=admin)))


def _report_pdf(make, client) -> bytes:
    report = make.query(lambda: db.session.scalars(select(CoordinationReport)
                                                   .order_by(CoordinationReport.id.desc())).first())
    response = client.get(f"/reports/{report.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return response.data


def _mrn(make, patient_id) -> str:
    return make.query(lambda: db.session.get(Patient, patient_id).mrn)


def test_the_coordination_report_is_tagged_titled_by_mrn_and_signed_by_its_author(team, make, auth, client,
                                                                                 clinic_phone, tmp_path, caplog):
    make.run(lambda: setattr(db.session.get(User, team["therapist"]), "email", "hazel.quint@clinic.example"))
    auth.sign_in("desk")
    _release(auth, team, ALL_CATEGORIES)
    auth.logout()
    auth.sign_in("ther")
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        assert _generate(auth, team).status_code == 302
    # WeasyPrint logs an error for each PDF/UA requirement it cannot meet (an image without
    # alternate text, no document language)
    assert not [r for r in caplog.records if r.name.startswith("weasyprint") and r.levelno >= logging.ERROR]
    data = _report_pdf(make, client)
    mrn = _mrn(make, team["patient"])
    reader = assert_tagged_pdf_ua(data, title=f"Coordination report, MRN {mrn}",
                                  forbidden=("Wren", "Coordinated"))
    assert reader.metadata.author == "Hazel Quint"
    found = tags(reader)
    for tag in ("H3", "Table", "TH", "TD", "L", "LI", "Figure"):
        assert tag in found, tag
    # every data cell of a table points to its column's header cell
    cells = [n for n in structure(reader) if n["/S"] == "/TD"]
    assert cells and all(len(_resolve(n["/A"])["/Headers"]) >= 1 for n in cells)
    [figure] = [n for n in structure(reader) if n["/S"] == "/Figure"]
    assert str(figure["/Alt"]).startswith("PHQ-9 totals over time, 2 completed: ")
    assert "(every value is in the table below)" in str(figure["/Alt"])

    first_page = pdftotext(data, tmp_path, 1, 1)
    words = " ".join(first_page.split())
    # the author and how to reach them: their email, and the clinic's phone as they have none of their own
    assert f"Written by Hazel Quint; contact: email hazel.quint@clinic.example; clinic phone {CLINIC_PHONE}." \
        in words, words[:600]
    # the open item-9 alert is the first thing the report says after whom it is from and what it holds
    assert "Open safety alert: not yet acknowledged" in words
    assert words.index("Open safety alert") < words.index("Patient and course")
    assert "PHQ-9 item 9" in words[words.index("Open safety alert"):words.index("Patient and course")]
    # and it is still in the safety history, with the rest
    assert "Safety history" in " ".join(pdftotext(data, tmp_path).split())


def test_an_acknowledged_alert_is_in_the_history_only(team, make, auth, client, tmp_path):
    from ketamine_integration.notes.models import SafetyAlert
    alert = make.query(lambda: db.session.scalar(select(SafetyAlert.id)))
    auth.sign_in("desk")
    _release(auth, team, ALL_CATEGORIES)
    auth.logout()
    auth.sign_in("pres")
    assert auth.post(f"/alerts/{alert}/acknowledge", {"note": "Called the patient; safety plan reviewed."}) \
        .status_code == 302
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    words = " ".join(pdftotext(_report_pdf(make, client), tmp_path).split())
    assert "Open safety alert" not in words
    history = words[words.index("Safety history"):]
    assert "Orrin Vale" in history and "Called the" in history   # the cells' lines wrap in the table


def test_a_release_without_safety_alerts_shows_none_and_an_author_without_contact_just_their_name(
        team, make, auth, client, tmp_path):
    auth.sign_in("desk")
    _release(auth, team, ["dosing"])   # no safety category: no alerts at all, open or not
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    words = " ".join(pdftotext(_report_pdf(make, client), tmp_path).split())
    assert "Open safety alert" not in words and "Safety history" not in words and "PHQ-9 item 9" not in words
    # no email on file, no work phone, no clinic phone: the sentence ends after the name
    assert "Written by Hazel Quint." in words


def test_the_chart_keeps_every_label_inside_its_figure_and_labels_its_axes(team, make, auth, client, tmp_path):
    """No label of the chart is clipped: every word pdftotext finds within the chart's band of the page
    lies inside the figure's box (the last date, centred on the axis's end, once ran past it)."""
    auth.sign_in("desk")
    _release(auth, team, ["measures"])
    auth.logout()
    auth.sign_in("ther")
    assert _generate(auth, team).status_code == 302
    data = _report_pdf(make, client)
    reader = PdfReader(BytesIO(data))
    [figure] = [n for n in structure(reader) if n["/S"] == "/Figure"]
    page = next(i for i, p in enumerate(reader.pages) if p.indirect_reference == figure["/Pg"].indirect_reference)
    # WeasyPrint writes a figure's layout box in CSS pixels from the page's top left; pdftotext, points
    left, top, right, bottom = (float(v) * 0.75 for v in _resolve(figure["/A"])["/BBox"])
    words = _words(pdftotext_bbox(data, tmp_path, page + 1))
    inside = [w for w in words if top <= (w["yMin"] + w["yMax"]) / 2 <= bottom]
    labels = {w["text"] for w in inside}
    # the axes' titles, the bands' names and the dates of the first and last completion
    assert {"Total", "Date", "completed", "Severe", "Mild"} <= labels, labels
    for date_label in _chart_date_labels(reader):
        assert set(date_label.split()) <= labels, date_label
    for w in inside:
        assert left - 0.5 <= w["xMin"] and w["xMax"] <= right + 0.5 and top - 0.5 <= w["yMin"] \
            and w["yMax"] <= bottom + 0.5, f"{w['text']!r} runs out of the chart"


def pdftotext_bbox(data: bytes, tmp_path, page: int) -> str:
    """pdftotext's words with their boxes (points from the page's top left), one page."""
    if shutil.which("pdftotext") is None:
        return pdftotext(data, tmp_path)   # skips, or fails in CI, with the reason
    source = tmp_path / "figure.pdf"
    source.write_bytes(data)
    return subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(source), "-"],
                          check=True, capture_output=True, text=True, timeout=30).stdout


def _words(bbox_html: str) -> list[dict]:
    found = []
    for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                         bbox_html):
        found.append({"xMin": float(m[1]), "yMin": float(m[2]), "xMax": float(m[3]), "yMax": float(m[4]),
                      "text": unescape(m[5])})
    return found


def _chart_date_labels(reader: PdfReader) -> list[str]:
    """The dates written under the chart's axis ("Dec 04") of its first and last completion, read
    from the figure's alternate text (ISO dates)."""
    [figure] = [n for n in structure(reader) if n["/S"] == "/Figure"]
    isos = re.findall(r"\d{4}-\d{2}-\d{2}", str(figure["/Alt"]))
    assert len(isos) == 2, str(figure["/Alt"])
    return [f"{date.fromisoformat(d):%b %d}" for d in isos]


def test_the_rems_form_is_tagged_and_titled_without_the_patients_name(make, auth, client, tmp_path):
    ther = make.user("therapist", username="ther2")
    pres = make.user("prescriber", username="pres2", full_name="Orrin Vale", licence_type="MD")
    patient = make.patient(given_name="Ysolde", family_name="Spravato")
    course = make.course(patient, ther, pres, protocol="esketamine-trd-rems", phase="experience")
    [session_id] = make.dosing_plan(course, first_start=local(9), days_between=3, count=1)
    auth.sign_in("pres2")
    start = local(9, 9)
    assert _sign(make, auth, session_id, pres, started_at=form_time(start), route="intranasal",
                 medication="esketamine", dose_mg="56", weight_kg="",
                 ended_at=form_time(start + timedelta(minutes=15)),
                 discharged_at=form_time(start + timedelta(minutes=140)),
                 ready_to_leave_at=form_time(start + timedelta(minutes=90)),
                 vitals_acceptable_before_dosing="yes", vitals_acceptable_before_discharge="yes",
                 concomitant_sedating_medications="none").status_code == 302
    response = client.get(f"/dosing/{session_id}/rems.pdf")
    assert response.status_code == 200
    reader = assert_tagged_pdf_ua(response.data, title=f"REMS Patient Monitoring Form, MRN {_mrn(make, patient)}, "
                                                       "session 1", forbidden=("Ysolde", "Spravato"))
    assert reader.metadata.author.startswith("Orrin Vale")   # who signed the record it reports
    found = tags(reader)
    assert "Table" in found and found.count("TH") == 4
    text = " ".join(pdftotext(response.data, tmp_path).split())
    assert "Ysolde Spravato" in text          # on the page, where it belongs: whose form it is


def test_the_discharge_summary_is_tagged_titled_by_mrn_and_names_its_author(ended, make, auth, client,   # noqa: F811
                                                                            clinic_phone, tmp_path):
    make.run(lambda: setattr(db.session.get(User, ended["therapist"]), "phone", "(555) 010-0177 ext. 3"))
    auth.sign_in("ther")
    assert _sign_summary(auth, make, ended["course"]).status_code == 302
    summary = make.query(lambda: db.session.scalar(select(DischargeSummary)
                                                   .where(DischargeSummary.course_id == ended["course"])))
    response = client.get(f"/discharge/{summary.id}.pdf")
    assert response.status_code == 200
    reader = assert_tagged_pdf_ua(response.data, title=f"Discharge summary, MRN {_mrn(make, ended['patient'])}",
                                  forbidden=("Wren", "Discharged"))
    assert reader.metadata.author == "Hazel Quint"
    assert "Table" in tags(reader) and "TH" in tags(reader)
    words = " ".join(pdftotext(response.data, tmp_path, 1, 1).split())
    # their own phone, so not the clinic's
    assert "Written by Hazel Quint; contact: phone (555) 010-0177 ext. 3." in words, words[:500]

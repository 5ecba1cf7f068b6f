"""`flask forms check` and the staff pages of intake and consent forms (issue 26, point 1): the shipped
set passes; a broken file is named file:line field: message, exit status 1; the pages list and show
the forms to every staff role, a broken file with its problems, and audit nothing (form definitions
are the clinic's documents, not patient data)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketamine_integration.audit.models import AuditEvent
from ketamine_integration.extensions import db
from tests.conftest import page_text

SHIPPED = Path(__file__).resolve().parents[2] / "forms"
BROKEN = {
    "choice.yaml": "form: broken-choice\nkind: intake\nversion: 1\ntitle: Broken\nresign_on_change: false\n"
                   "sections:\n  - id: a\n    title: A\n    questions:\n      - id: q\n        type: choice\n"
                   "        label: Pick\n",
    "consent.yaml": "form: broken-consent\nkind: consent\nversion: 1\ntitle: Broken\nresign_on_change: true\n"
                    "sections:\n  - id: a\n    title: A\n    text: Words.\n",
}
EXPECTED = [
    "ERROR choice.yaml:10 sections[0].questions[0].options: a choice question needs a list of at least two options",
    "ERROR consent.yaml:1 consent: a consent needs consent.text",
]
ROLES = ("admin", "staff", "therapist", "prescriber", "nurse")


@pytest.fixture
def forms_dir(app, tmp_path):
    directory = tmp_path / "forms"
    shutil.copytree(SHIPPED, directory, ignore=shutil.ignore_patterns("*.md"))
    for name, body in BROKEN.items():
        (directory / name).write_text(body)
    app.config["FORMS_DIR"] = str(directory)
    return directory


def test_the_shipped_set_passes_the_check(app):
    result = app.test_cli_runner().invoke(args=["forms", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 16 and all(line.startswith("ok    ") for line in lines)
    # the consents' version 2 (issue 26 review): summaries to the patient, names and phones on one line
    assert "ok    consent-telehealth-v2.yaml: consent-telehealth v2 (consent, 2 questions, 0 flagged)" in lines
    assert "ok    intake-questionnaire.yaml: intake-questionnaire v1 (intake, 17 questions, 11 flagged)" in lines
    assert "ok    intake-questionnaire-v2.yaml: intake-questionnaire v2 (intake, 17 questions, 11 flagged)" in lines


def test_the_check_names_each_problem_by_file_line_and_field(app, forms_dir):
    result = app.test_cli_runner().invoke(args=["forms", "check"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    for expected in EXPECTED:
        assert any(line.startswith(expected) for line in lines), (expected, result.output)
    assert sum(line.startswith("ok    ") for line in lines) == 16


def test_the_check_of_named_files(app, forms_dir):
    only = app.test_cli_runner().invoke(args=["forms", "check", str(forms_dir / "choice.yaml")])
    assert only.exit_code == 1 and only.output.startswith(EXPECTED[0])
    good = app.test_cli_runner().invoke(args=["forms", "check", str(SHIPPED / "consent-telehealth.yaml")])
    assert good.exit_code == 0 and good.output.startswith("ok    consent-telehealth.yaml: consent-telehealth v1")
    missing = app.test_cli_runner().invoke(args=["forms", "check", str(forms_dir / "nowhere.yaml")])
    assert missing.exit_code == 1 and "ERROR nowhere.yaml: (file): cannot be read" in missing.output


def _audit_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action != "login.success"))


@pytest.mark.parametrize("role", ROLES)
def test_every_staff_role_reads_the_forms_and_nothing_is_audited(app, make, auth, client, role):
    make.user(role, username=f"u-{role}")
    auth.sign_in(f"u-{role}")
    before = _audit_rows(app)
    listing = " ".join(page_text(client.get("/protocols/forms/")).split())
    assert "Consent to intravenous (IV) ketamine treatment IV Consent v2" in listing
    # the newest version: v2 bounds a date by today and asks nobody who signed v1 to sign again
    assert "Intake questionnaire and health screen Intake v2 17 (11 flagged for review) No" in listing
    page = client.get("/protocols/forms/intake-questionnaire/v1")
    assert page.status_code == 200
    newest = " ".join(page_text(client.get("/protocols/forms/intake-questionnaire/v2")).split())
    assert "When was your blood pressure last checked? Date, no later than the day it is signed" in newest
    transport = " ".join(page_text(client.get("/protocols/forms/agreement-transport-no-driving/v2")).split())
    assert "Their phone number (required) Phone number · escort_phone" in transport
    assert "Name of the adult who usually takes you home (required) Short text (one line) · escort_name" in transport
    assert _audit_rows(app) == before


def test_a_consent_page_shows_the_full_text_and_the_flags(auth, make, client):
    make.user("therapist", username="ther")
    auth.sign_in("ther")
    text = " ".join(page_text(client.get("/protocols/forms/consent-intranasal-esketamine/v1")).split())
    assert "What the patient agrees to" in text
    # the REMS enrolment is referenced, not repeated
    assert "on its own Patient Enrollment Form, which the clinic completes with you separately" in text
    assert "Agreement signed: I have read this consent" in text
    assert ("Flagged for a prescriber's review when the answer is No: Esketamine is given with an oral "
            "antidepressant; the prescriber confirms the plan.") in text
    intake = " ".join(page_text(client.get("/protocols/forms/intake-questionnaire/v1")).split())
    assert "Yes, and it is not controlled, or I am not sure (flagged)" in intake
    assert "Medication list" in intake
    assert 'href="/protocols/forms/"' in client.get("/protocols/").get_data(as_text=True)


def test_an_unknown_form_or_version_is_404(auth, make, client):
    make.user("staff", username="front")
    auth.sign_in("front")
    assert client.get("/protocols/forms/intake-questionnaire/v9").status_code == 404
    assert client.get("/protocols/forms/no-such-form/v1").status_code == 404


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get("/protocols/forms/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_broken_file_is_listed_with_its_problems_and_offered_to_nobody(auth, make, client, forms_dir):
    make.user("admin", username="adm")
    auth.sign_in("adm")
    text = " ".join(page_text(client.get("/protocols/forms/")).split())
    assert "Files that cannot be used" in text
    for expected in EXPECTED:
        assert expected.removeprefix("ERROR ") in text
    assert client.get("/protocols/forms/broken-choice/v1").status_code == 404


def test_a_file_whose_suffix_is_in_capitals_is_read_too(auth, make, client, forms_dir):
    """"Intake.YAML" saved by another editor is a form file like any other: read and offered, never
    silently skipped (the suffix was compared case-sensitively)."""
    (forms_dir / "consent-telehealth.yaml").rename(forms_dir / "Consent-Telehealth.YAML")
    make.user("admin", username="adm")
    auth.sign_in("adm")
    assert client.get("/protocols/forms/consent-telehealth/v1").status_code == 200
    checked = client.application.test_cli_runner().invoke(args=["forms", "check"]).output
    assert "ok    Consent-Telehealth.YAML: consent-telehealth v1" in checked


ROOT = Path(__file__).resolve().parents[2]


def _check_in_subprocess(tmp_path, forms: Path, *files: Path) -> subprocess.CompletedProcess:
    """`flask forms check` in its own process with a timeout: a reader that hangs fails the test, not the suite."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FORMS_DIR": str(forms),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'check.db'}"}
    try:
        return subprocess.run([sys.executable, "-m", "flask", "--app", "ketamine_integration", "forms", "check",
                               *map(str, files)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("flask forms check hung on a pipe or a device")


def test_the_check_refuses_a_pipe_or_a_device_by_name_and_never_hangs(tmp_path):
    """Attacker review of issue 26, finding 5: the size check trusted stat, so a FIFO (waits for a writer) or
    a link to /dev/zero (0 bytes by stat, endless) hung `flask forms check` and the pages reading forms/."""
    forms = tmp_path / "forms"
    shutil.copytree(SHIPPED, forms, ignore=shutil.ignore_patterns("*.md"))
    os.mkfifo(forms / "pipe.yaml")
    (forms / "zero.yaml").symlink_to("/dev/zero")
    (forms / "drafts").mkdir()
    extra = (SHIPPED / "consent-telehealth.yaml").read_text().replace("form: consent-telehealth", "form: clinic-extra")
    (forms / "drafts" / "clinic-extra.yaml").write_text(extra)
    (forms / "clinic-extra.yaml").symlink_to("drafts/clinic-extra.yaml")  # a link within forms/: read
    result = _check_in_subprocess(tmp_path, forms)
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "ERROR pipe.yaml: (file): is not a regular file" in output
    assert "ERROR zero.yaml: (file): is a link to a file outside its folder" in output
    assert "ok    clinic-extra.yaml: clinic-extra v1" in output
    # named on the command line, the same
    named = _check_in_subprocess(tmp_path, forms, forms / "pipe.yaml", forms / "zero.yaml")
    assert named.returncode == 1 and "ERROR pipe.yaml: (file): is not a regular file" in named.stderr
    assert "ERROR zero.yaml: (file): is a link to a file outside its folder" in named.stderr


def test_a_link_leading_nowhere_is_listed_broken_and_the_pages_still_work(auth, make, client, forms_dir):
    """The folder's listing now keeps every entry but a folder, so its stamp reads a broken link's own stat."""
    (forms_dir / "gone.yaml").symlink_to(forms_dir / "nowhere")
    make.user("admin", username="adm")
    auth.sign_in("adm")
    response = client.get("/protocols/forms/")
    assert response.status_code == 200
    assert "gone.yaml: (file): cannot be read: No such file or directory" in " ".join(page_text(response).split())


def test_the_files_are_looked_at_once_per_app_context_and_a_change_is_seen_by_the_next(app, forms_dir):
    """protocols.file_cache: one request (or command) reads one version of the files throughout; a file
    added, changed or removed since is read by the next one."""
    from ketamine_integration.protocols.forms import current_forms

    added = forms_dir / "late.yaml"
    with app.app_context():
        first = current_forms()
        added.write_text(BROKEN["choice.yaml"].replace("broken-choice", "late-choice"))
        assert current_forms() is first
    with app.app_context():
        seen = current_forms()
        assert seen is not first and "late.yaml" in {f.path.name for f in seen.broken}
    with app.app_context():
        assert current_forms() is seen  # nothing changed since: not read again
    added.unlink()
    with app.app_context():
        assert "late.yaml" not in {f.path.name for f in current_forms().files}

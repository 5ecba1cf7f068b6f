"""The indication, protocol and course phase of a coordination report follow the release's
treatment-summary category like every other section (issue 17, point 8): without it, neither
the preview (HTML) nor the PDF (text read with pypdf) carries them; with it, both do."""
import pytest

from ketamine_integration.coordination.models import CATEGORIES
from tests.conftest import page_text
from tests.integration.test_coordination import _generate, _latest_pdf_text, _release, team  # noqa: F401

#: what make.course enrols the team's course with (tests/factories.py), and its phase's label
INDICATION = "Treatment-resistant depression"
SUMMARY = ("Indication", INDICATION, "IV ketamine induction", "Experience")


def _preview_and_pdf(team, make, auth, client, categories) -> tuple[str, str]:
    auth.sign_in("desk")
    assert _release(auth, team, categories).status_code == 302
    auth.logout()
    auth.sign_in("ther")
    preview = auth.post(f"/courses/{team['course']}/report-preview", {"recipient": str(team["prescriber"])})
    assert preview.status_code == 200
    assert _generate(auth, team).status_code == 302
    return " ".join(page_text(preview).split()), _latest_pdf_text(make, client)


@pytest.mark.parametrize("categories, shown", [
    (["dosing", "measures"], False),               # no treatment summary: the report still goes, without it
    (["treatment", "dosing", "measures"], True),   # permitted: indication, protocol and phase are there
    (list(CATEGORIES), True),                      # a full release
])
def test_the_indication_and_phase_follow_the_treatment_summary_category(team, make, auth, client, categories,
                                                                        shown, databases, figures):
    preview, pdf = _preview_and_pdf(team, make, auth, client, categories)
    found = sum(item in text for text in (preview, pdf) for item in SUMMARY)
    figures.record("Report scope", f"release of {len(categories)} categories, "
                   f"{'with' if 'treatment' in categories else 'without'} the treatment summary",
                   f"indication, protocol and phase found in preview and PDF: {found} of {2 * len(SUMMARY)}",
                   engine=databases.name)
    for where, text in (("preview", preview), ("PDF", pdf)):
        assert "Wren O'Coordinated" in text and "Dosing history" in text, where   # the report itself was made
        assert "Course started" in text or "course started" in text, where          # the minimum, always
        for item in SUMMARY:
            assert (item in text) is shown, f"{where}: {item!r} {'missing' if shown else 'present'}"
        withheld = "Not permitted, so not included: Treatment summary" in text
        assert withheld is not shown, where


def test_the_release_form_says_where_the_indication_goes(team, auth):
    auth.sign_in("desk")
    form = " ".join(page_text(auth.client.get(f"/patients/{team['patient']}/releases")).split())
    assert "Treatment summary: indication, protocol and course phase" in form
    assert "Every report names the patient's name, MRN and date of birth, and the date the course started" in form

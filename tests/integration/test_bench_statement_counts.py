"""The key pages of `make bench` load what they show in bulk, never one query per row (no N+1):
on a larger clinic no statement runs more often than on a small one.

Both clinics come from the benchmark's own generator (bench/clinic.py) at tiny sizes, the
larger with three times the patients and courses; each page is opened as the user the
benchmark opens it as, picked by the same rules (bench/pages.py).

Statements are compared by shape (bench.pages.statement_shape: parameters, and how many an IN
list holds, left out). A page may skip a query when a section has nothing to show, and which of
the small clinic's sections are empty depends on the day and the hour the data is generated
relative to; so a statement the small clinic never needed may run on the larger one, once. A
query per row runs as often as there are rows: more often on the larger clinic than on the small
one, or more than once where the small clinic had none.
"""
from collections import Counter

import pytest

from ketamine_integration.extensions import db

from bench.clinic import Params, generate
from bench.pages import key_pages, statement_shapes
from tests.conftest import Auth, SavedState

# On SQLite and PostgreSQL: SQL statement counts.
pytestmark = pytest.mark.both_engines

# Eight weeks of history, so both clinics have courses mid-series (open windows on the worklist,
# REMS forms due) and courses just after their series, at any hour: a page that skips a query when
# it has nothing to show is not an N+1 (with 16 weeks, the small clinic's last course after its
# series left the worklist's horizon at some hours of the day while the larger one's had not).
SMALL = Params(therapists=2, prescribers=1, patients=10, years=0.15, seed=31)
LARGER = Params(therapists=2, prescribers=1, patients=30, years=0.15, seed=31)


def _page_statements(app, auth: Auth) -> dict[str, Counter[str]]:
    """Each key page's statements, opened as its user, signed in by the app's own start_session
    (Auth.sign_in): the sign-in forms are not what is measured here."""
    shapes = {}
    for page in key_pages(app):
        auth.sign_in(page.username)
        auth.client.get(page.path)  # the first request may fill caches (protocol snapshots)
        shapes[page.name] = statement_shapes(app, auth.client, page.path)
    return shapes


def _more_often(small: Counter[str], larger: Counter[str]) -> dict[str, tuple[int, int]]:
    """The statements the larger clinic ran more often than the small one allows: (small, larger)."""
    return {shape: (small[shape], times) for shape, times in larger.items() if times > max(small[shape], 1)}


def _generate(app, params: Params) -> dict:
    with app.app_context():
        made = generate(params, log=lambda *_: None)
        db.session.remove()
    return made


def _close(app) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_key_pages_run_the_same_statements_on_a_larger_clinic(app, auth, databases, figures):
    before = SavedState(app)  # the per-app caches as a test gets them
    small_made = _generate(app, SMALL)
    small = _page_statements(app, auth)
    # The larger clinic in the same app, its database emptied and its caches put back: an app of its
    # own would compile every template and statement again.
    _close(app)
    databases.reset_shared()
    before.restore()
    larger_made = _generate(app, LARGER)
    larger = _page_statements(app, Auth(app, app.test_client()))

    assert larger_made["sessions"] > 2 * small_made["sessions"]
    assert set(small) == set(larger) and len(small) == 10
    figures.record("bench statement counts", f"sessions {small_made['sessions']} vs {larger_made['sessions']}",
                   ", ".join(f"{name} {small[name].total()}/{larger[name].total()}" for name in small),
                   engine=databases.name)
    assert all(small[name].total() > 3 for name in small)  # every page was measured
    grown = {name: _more_often(small[name], larger[name]) for name in small}
    assert grown == {name: {} for name in small}


def test_a_query_per_row_is_caught():
    """The comparison itself: a statement run once per row is caught, whether the small clinic
    ran it too or had no rows for it; a statement only the larger clinic needed, run once, is not."""
    page = Counter({"SELECT a FROM t WHERE id IN (?)": 1, "SELECT b FROM u WHERE id = ?": 2})
    per_row = page + Counter({"SELECT b FROM u WHERE id = ?": 4})
    new_section = page + Counter({"SELECT c FROM v WHERE id IN (?)": 1})
    new_section_per_row = page + Counter({"SELECT c FROM v WHERE id = ?": 3})
    assert _more_often(page, page) == {}
    assert _more_often(page, new_section) == {}
    assert _more_often(page, per_row) == {"SELECT b FROM u WHERE id = ?": (2, 6)}
    assert _more_often(page, new_section_per_row) == {"SELECT c FROM v WHERE id = ?": (0, 3)}

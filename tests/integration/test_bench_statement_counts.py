"""The key pages of `make bench` run as many SQL statements on a larger clinic as on a small
one: what they show is loaded in bulk, never one query per row (no N+1).

Both clinics come from the benchmark's own generator (bench/clinic.py) at tiny sizes, the
larger with three times the patients and courses; each page is opened as the user the
benchmark opens it as, picked by the same rules (bench/pages.py).
"""
import pytest

from ketamine_integration import create_app
from ketamine_integration.extensions import db

from bench.clinic import BENCH_PASSWORD, Params, generate
from bench.pages import key_pages, statements
from tests.conftest import Auth
from tests.databases import app_settings

# On SQLite and PostgreSQL: SQL statement counts.
pytestmark = pytest.mark.both_engines

# Eight weeks of history, so both clinics have courses mid-series (open windows on the worklist,
# REMS forms due) and courses just after their series, at any hour: a page that skips a query when
# it has nothing to show is not an N+1 (with 16 weeks, the small clinic's last course after its
# series left the worklist's horizon at some hours of the day while the larger one's had not).
SMALL = Params(therapists=2, prescribers=1, patients=10, years=0.15, seed=31)
LARGER = Params(therapists=2, prescribers=1, patients=30, years=0.15, seed=31)


def _page_statements(app, auth: Auth) -> dict[str, int]:
    counts = {}
    for page in key_pages(app):
        auth.login(page.username, BENCH_PASSWORD)
        auth.client.get(page.path)  # the first request may fill caches (protocol snapshots)
        counts[page.name] = statements(app, auth.client, page.path)
        auth.logout()
    return counts


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
    small_made = _generate(app, SMALL)
    small = _page_statements(app, auth)
    _close(app)  # PostgreSQL: the next fresh database is this one, emptied

    larger_app = create_app(app_settings(databases.fresh()))
    larger_made = _generate(larger_app, LARGER)
    larger = _page_statements(larger_app, Auth(larger_app, larger_app.test_client()))
    _close(larger_app)

    assert larger_made["sessions"] > 2 * small_made["sessions"]
    assert set(small) == set(larger) and len(small) == 9
    figures.record("bench statement counts", f"sessions {small_made['sessions']} vs {larger_made['sessions']}",
                   ", ".join(f"{name} {small[name]}" for name in small), engine=databases.name)
    assert larger == small

"""Shared helpers of the note edge-case tests (the project's own note helpers, and a parallel runner)."""
import threading

from tests.conftest import Auth
from tests.integration.test_notes import (SIGNING, TODAY, _integration_data, _start, _theme, _version,  # noqa: F401
                                          _write_and_sign)


def parallel(app, username, n, request):
    """n logged-in clients fire request(tab, i) at the same moment; their status codes."""
    results, barrier = [], threading.Barrier(n)

    def run(i):
        tab = Auth(app, app.test_client())
        tab.login(username)
        barrier.wait(30)
        results.append(request(tab, i).status_code)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(results)

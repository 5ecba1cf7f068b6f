"""One writer process for the concurrency figures: T threads, each registering M patients over HTTP
(every registration writes the patient and its audit row). Prints a JSON tally on stdout.

    python -m tests.security.sqlite_writers DATABASE_URI USERNAME THREADS WRITES PREFIX
"""
from __future__ import annotations

import json
import sys
import threading
import warnings

from ketamine_integration import create_app
from tests.conftest import Auth
from tests.databases import app_settings


def write_many(app, username: str, writes: int, prefix: str, barrier: threading.Barrier, tally: dict,
               lock: threading.Lock) -> None:
    auth = Auth(app, app.test_client())
    login = auth.login(username)
    barrier.wait(timeout=60)
    outcomes = {"ok": 0, "locked": 0, "errors": []}
    if login.status_code != 302 or login.headers["Location"].startswith(("/login", "/account")):
        outcomes["errors"].append(f"sign-in answered {login.status_code} to {login.headers.get('Location')}")
    for n in range(writes):
        try:
            response = auth.post("/patients/new", {"given_name": "Load", "family_name": f"{prefix}-{n:04d}",
                                                   "date_of_birth": "1980-05-17"})
            # Saved: redirected to the new patient's page (not back to a sign-in step).
            if response.status_code == 302 and response.headers["Location"].startswith("/patients/"):
                outcomes["ok"] += 1
            else:
                outcomes["errors"].append(f"status {response.status_code}")
        except Exception as err:  # noqa: BLE001 - every failure is counted, the locked ones apart
            if "database is locked" in str(err):
                outcomes["locked"] += 1
            else:
                outcomes["errors"].append(f"{type(err).__name__}: {str(err)[:200]}")
    with lock:
        tally["ok"] += outcomes["ok"]
        tally["locked"] += outcomes["locked"]
        tally["errors"] += outcomes["errors"]


def main(uri: str, username: str, threads: int, writes: int, prefix: str) -> dict:
    warnings.simplefilter("error")
    warnings.simplefilter("ignore", ResourceWarning)
    app = create_app(app_settings(uri))
    tally, lock = {"ok": 0, "locked": 0, "errors": []}, threading.Lock()
    barrier = threading.Barrier(threads)
    workers = [threading.Thread(target=write_many, args=(app, username, writes, f"{prefix}-t{t}", barrier,
                                                          tally, lock)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    from ketamine_integration.extensions import db
    with app.app_context():
        db.engine.dispose()
    return tally


if __name__ == "__main__":
    uri, username, threads, writes, prefix = sys.argv[1:6]
    print(json.dumps(main(uri, username, int(threads), int(writes), prefix)))

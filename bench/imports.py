"""How much of its time limit reading an import file at the row limit costs, and how the cost grows
with the rows: `python -m bench.imports`. Reading runs before any database transaction (no database
here); figures are ratios (of the limit, and of a file ten times larger), not absolute times."""
from __future__ import annotations

import json
import statistics
import tempfile
import time

from ketamine_integration import create_app
from ketamine_integration.imports import reading, services
from ketamine_integration.imports.patient_rows import MRN_SYSTEM

from .databases import bench_settings

PHQ9 = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8")


def patients_csv(rows: int) -> bytes:
    lines = ["mrn,given_name,family_name,date_of_birth,phone,email"]
    lines += [f"BX-{n:05d},Bench,Fictional{n:05d},1980-01-{n % 28 + 1:02d},555-0100,b{n}@example.org"
              for n in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def measures_ndjson(rows: int) -> bytes:
    def one(n):
        return json.dumps({"resourceType": "QuestionnaireResponse", "status": "completed",
                           "questionnaire": "http://loinc.org/q/44249-1", "authored": "2026-01-02",
                           "subject": {"identifier": {"system": MRN_SYSTEM, "value": f"BX-{n:05d}"}},
                           "item": [{"linkId": c, "answer": [{"valueInteger": n % 4}]} for c in PHQ9]})
    return "\n".join(one(n) for n in range(rows)).encode()


def _rows_that_fit(make) -> int:
    """The row limit, or fewer where the byte limit comes first (a FHIR questionnaire is ~1 KB)."""
    per_row = len(make(100)) / 100
    return min(reading.MAX_ROWS, int(reading.MAX_BYTES / per_row) // 100 * 100)


def _median_s(fn, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(bench_settings(f"sqlite:///{folder}/unused.db"))
        with app.app_context():
            for kind, make, name in ((services.PATIENTS, patients_csv, "patients.csv"),
                                     (services.MEASURES, measures_ndjson, "history.ndjson")):
                rows = _rows_that_fit(make)
                small, full = make(rows // 10), make(rows)
                report = services.read_upload(kind, name, full)
                assert report.file_refusal is None and len(report.ready) == rows, report.file_refusal
                t_small = _median_s(lambda: services.read_upload(kind, name, small))
                t_full = _median_s(lambda: services.read_upload(kind, name, full))
                print(f"{name}: {rows:,} rows ({len(full) / 1024:.0f} KB) read in "
                      f"{t_full / reading.MAX_SECONDS:.0%} of the {reading.MAX_SECONDS:g} s limit; "
                      f"10x the rows cost {t_full / t_small:.1f}x the time")


if __name__ == "__main__":
    main()

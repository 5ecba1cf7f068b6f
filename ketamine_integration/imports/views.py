"""The import page: upload a file, read its report (what is ready, what is refused and why), and
import it all or nothing. Open to the roles that register patients (patients.import)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import services as audit
from ..db.clinic_time import clinic_today
from ..domain.text import upload_name
from ..web import access, lifecycle
from ..web.forms import submit
from . import services
from .forms import ImportCheckForm, ImportRunForm
from .reading import MAX_BYTES

bp = Blueprint("imports", __name__, url_prefix="/imports")

UPLOAD_HINT = (f"Import files may be at most {MAX_BYTES // (1024 * 1024)} MB: split a larger file into "
               "several and import each.")


def _read_import_file() -> services.Report | None:
    """The uploaded file, read holding no database transaction (lifecycle.before_transaction)."""
    upload = request.files.get("import_file")
    kind = request.form.get("kind")
    if upload is None or not upload.filename or kind not in services.KINDS:
        return None
    return services.read_upload_once(g.importer_id, kind, upload_name(upload.filename),
                                     upload.read(MAX_BYTES + 1))


def _remember_importer() -> None:
    """Who uploads, read before the transaction ends (after it, reading current_user would query again)."""
    g.importer_id = current_user.id


def _audit_too_large() -> None:
    if current_user.is_authenticated:
        audit.record("import.check", outcome=audit.FAILURE,
                     detail=f"refused: upload of {request.content_length or '?'} bytes exceeds the server limit")


def _page(check_form: ImportCheckForm, report: services.Report | None = None, run_form: ImportRunForm | None = None,
          status: int = 200):
    return render_template("imports/import.html", form=check_form, report=report, run_form=run_form,
                           kinds=services.KINDS, csv_header=services.CSV_HEADER,
                           csv_required=services.CSV_REQUIRED), status


@bp.route("/")
@access.permission("patients.import")
def import_page():
    return _page(ImportCheckForm())


@bp.route("/check", methods=["POST"])
@access.permission("patients.import")
@lifecycle.upload_limit(UPLOAD_HINT, on_refused=_audit_too_large)
@lifecycle.before_transaction(_read_import_file, check=_remember_importer)
def import_check():
    form = ImportCheckForm()
    report = lifecycle.prepared()
    if not form.validate_on_submit() or report is None:
        audit.record("import.check", outcome=audit.FAILURE, detail="refused: no file or kind")
        return _page(form, status=422)
    services.check(report)
    audit.record("import.check", outcome=audit.SUCCESS if report.importable else audit.FAILURE,
                 detail=services.summary(report))
    run_form = ImportRunForm(formdata=None, kind=report.kind, digest=report.digest) if report.importable else None
    # 429: this user's previous upload is still being read; the report says to wait for it
    return _page(form, report, run_form, status=200 if report.importable else 429 if report.concurrent else 422)


@bp.route("/run", methods=["POST"])
@access.permission("patients.import")
@lifecycle.upload_limit(UPLOAD_HINT, on_refused=_audit_too_large)
@lifecycle.before_transaction(_read_import_file, check=_remember_importer)
def import_run():
    form = ImportRunForm()
    report = lifecycle.prepared()
    if report is not None and form.digest.data != report.digest:
        # not the file the user read the report of: show its own report, import nothing
        form = None
    if form is None or report is None:
        return _recheck(report)
    services.check(report)
    done, imported = submit(form, lambda: services.import_file(report, by=current_user, today=clinic_today()))
    if not done:
        audit.record("import.check", outcome=audit.FAILURE, detail=services.summary(report))
        # why (a row refused at the import itself: an MRN registered a moment ago), above the report
        for message in dict.fromkeys(m for messages in form.errors.values() for m in messages):
            flash(f"Nothing was imported: {message}", "error")
        return _page(ImportCheckForm(formdata=None, kind=report.kind), report, None, status=422)
    noun = "patient" if report.kind == services.PATIENTS else "questionnaire"
    skipped = f"; {len(report.skipped)} recorded already were skipped" if report.skipped else ""
    # imported patients have no care team, so nobody but staff sees them until one is added
    after = " They have no care team yet: choose it with Edit on each patient's page." if report.kind == services.PATIENTS else ""
    flash(f"Imported {imported} {noun}{'' if imported == 1 else 's'} from {report.filename}{skipped}.{after}",
          "success")
    return redirect(url_for("patients.patient_list") if report.kind == services.PATIENTS
                    else url_for("imports.import_page"))


def _recheck(report: services.Report | None):
    check_form = ImportCheckForm(formdata=None, kind=report.kind if report else "patients")
    if report is None:
        audit.record("import.check", outcome=audit.FAILURE, detail="refused: no file or kind")
        check_form.import_file.errors = ["Choose the file you checked."]
        return _page(check_form, status=422)
    services.check(report)
    audit.record("import.check", outcome=audit.FAILURE, detail="another file than the one checked; "
                                                               + services.summary(report))
    flash("This is not the file you checked: nothing was imported. Here is its own report.", "error")
    run_form = ImportRunForm(formdata=None, kind=report.kind, digest=report.digest) if report.importable else None
    return _page(check_form, report, run_form, status=422)

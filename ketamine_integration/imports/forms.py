"""The import page's forms: a file to check, and the same file again to import it."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField
from wtforms.validators import InputRequired, Regexp

from ..web.fields import options
from .reading import MAX_BYTES, MAX_ROWS

KIND_CHOICES = [("patients", "Patients (CSV or FHIR Patient)"),
                ("measures", "Measure history (FHIR QuestionnaireResponse or Observation)")]


class ImportCheckForm(FlaskForm):
    kind = RadioField("What the file holds", choices=options(KIND_CHOICES), default="patients",
                      validators=[InputRequired("Choose what the file holds.")])
    import_file = FileField("File to import", validators=[FileRequired("Choose a file to check.")],
                            description=f"CSV (.csv) or FHIR JSON (.json: a Bundle or one resource; .ndjson: one "
                                        f"resource a line), UTF-8, at most {MAX_BYTES // (1024 * 1024)} MB and "
                                        f"{MAX_ROWS:,} rows. Checking changes nothing.")


class ImportRunForm(FlaskForm):
    """The confirmation: the file checked, chosen again (browsers never keep a chosen file), its digest
    proving it is the file the report was about."""
    kind = HiddenField(validators=[InputRequired(), Regexp(r"^(patients|measures)$")])
    digest = HiddenField(validators=[InputRequired(), Regexp(r"^[0-9a-f]{64}$")])
    import_file = FileField("The same file again, to import it", id="run-import_file",
                            validators=[FileRequired("Choose the file you checked.")],
                            description="Browsers forget a chosen file after each page: choose it once more. "
                                        "A different or changed file is checked again, not imported.")

"""The clinic's choice of what downloaded patient documents are named by: the MRN (the default), or
the MRN and the patient's name. A file name travels further than the document (download folders,
mail attachments, shared drives), so the name in it is the clinic's decision, off until it is made."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from ..db.errors import DomainError
from ..db.locking import locked_row
from ..domain.file_names import document_file_name
from ..extensions import db
from .models import ClinicSetting

KEY = "file_names"
#: what a file name carries -> how the settings page says it
CHOICES = {"mrn": "The MRN and the date only", "mrn_and_name": "The MRN, the patient's name and the date"}
DEFAULT = "mrn"


def file_names() -> str:
    value = db.session.scalar(select(ClinicSetting.value).where(ClinicSetting.key == KEY))
    return value if value in CHOICES else DEFAULT


def set_file_names(value: str, *, by_id: int) -> None:
    if value not in CHOICES:
        raise DomainError({"file_names": "Choose one of the offered options."})
    row = locked_row(ClinicSetting, KEY, lambda: ClinicSetting(key=KEY, value=value, updated_by_id=by_id))
    row.value, row.updated_by_id = value, by_id
    db.session.flush()


def patient_file_name(kind: str, *, mrn: str, name: str, day: date, extension: str = "pdf") -> str:
    """The file name of a patient's document as the clinic chose (see domain/file_names.py)."""
    return document_file_name(kind, mrn, day, name=name if file_names() == "mrn_and_name" else None,
                              extension=extension)

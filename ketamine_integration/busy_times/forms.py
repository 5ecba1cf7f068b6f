"""The upload of a clinician's other calendar (calendars.views reads it; the availability page shows it)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired


class CalendarImportForm(FlaskForm):
    calendar_file = FileField("Calendar export (.ics)", validators=[FileRequired("Choose an .ics file to upload.")],
                              description="Replaces any earlier upload. Only the times are kept, never the "
                                          "events' titles or details. Events marked free, and invitations "
                                          "declined (see above), do not block.")

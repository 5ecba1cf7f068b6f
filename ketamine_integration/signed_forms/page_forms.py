"""The forms of the signed-forms pages around the answer form (issue 26): withdrawing a consent (the
patient in the portal, or staff recording what the patient said), a prescriber's review of flagged
answers, and the one-button forms (countersign, start an in-clinic signing, end it)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import InputRequired, Length

#: a withdrawal's reason and a review note: a paragraph or two
MAX_REASON, MAX_NOTE = 1_000, 4_000


class PatientWithdrawalForm(FlaskForm):
    """The patient withdraws a consent in the portal: the confirmation step, with their reason."""

    reason = TextAreaField("Why you are withdrawing this consent",
                           validators=[InputRequired("Tell your care team why, in a few words."),
                                       Length(max=MAX_REASON)],
                           description="Your care team reads this with your withdrawal; it is kept with the form you signed.")


class StaffWithdrawalForm(FlaskForm):
    """Staff record a withdrawal the patient made by phone or in person."""

    reason = TextAreaField("What the patient said, and how (by phone or in person)",
                           validators=[InputRequired("Write what the patient said and how they said it."),
                                       Length(max=MAX_REASON)])


class FlagReviewForm(FlaskForm):
    """The prescriber's review of a signed form's flagged answers: one note covers them all."""

    note = TextAreaField("Review note",
                         validators=[InputRequired("Write what you found and decided about the flagged answers."),
                                     Length(max=MAX_NOTE)],
                         description="What you discussed with the patient and decided; it covers every flagged "
                                     "answer of this form.")


class ButtonForm(FlaskForm):
    """A button that does one thing (countersign, start or end an in-clinic signing): its CSRF token."""

"""Forms for the code step, enrolment, recovery codes, and the admin's reset and policy."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import InputRequired, Length, ValidationError

from ..accounts.models import ROLE_LABELS
from ..web.fields import MultiCheckboxField, options
from . import totp


class TotpForm(FlaskForm):
    """A current code from the authenticator app (no recovery codes)."""

    code = StringField("Code from your authenticator app", validators=[InputRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                                  "spellcheck": "false", "autocapitalize": "off"})

    def validate_code(self, field):
        if not totp.looks_like_totp(field.data):
            raise ValidationError(f"Enter the {totp.DIGITS}-digit code your authenticator app shows.")


class SignInCodeForm(TotpForm):
    """The second sign-in step: an authenticator code, or one of the recovery codes."""

    code = StringField("Code", validators=[InputRequired(), Length(max=40)],
                       description=f"The {totp.DIGITS}-digit code your authenticator app shows now, "
                                   "or one of your recovery codes.",
                       render_kw={"autocomplete": "one-time-code", "autofocus": True,
                                  "spellcheck": "false", "autocapitalize": "off"})

    def validate_code(self, field):
        if not totp.looks_like_totp(field.data) and totp.recovery_code_hash(field.data) is None:
            raise ValidationError(f"Enter the {totp.DIGITS}-digit code from your authenticator app, "
                                  "or a recovery code (16 letters and digits).")


class ResetAuthenticatorForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[InputRequired(), Length(min=10, max=180)],
                           description="Kept in the audit log, e.g. "
                                       "\u201cphone lost; identity checked in person\u201d.")


class PolicyForm(FlaskForm):
    roles = MultiCheckboxField("Roles that must use two-step sign-in", choices=options(ROLE_LABELS.items()))

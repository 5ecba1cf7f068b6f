"""The portal's forms: signing in, accepting an invitation, the code step, the account page, and the
clinic's confirmation before turning a patient's account off."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.validators import EqualTo, InputRequired, Length, ValidationError

from ..accounts.passwords import MAX_LENGTH
from ..mfa import totp
from ..web.fields import options
from .models import EMAIL_CODE, TOTP

FACTORS = {TOTP: "An authenticator app on my phone (a new code every 30 seconds)",
           EMAIL_CODE: "A code sent to my email each time I sign in"}


class PortalSignInForm(FlaskForm):
    email = StringField("Email address", validators=[InputRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "inputmode": "email", "autocapitalize": "off",
                                   "spellcheck": "false"})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class _NewPassword:
    password = PasswordField("New password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                             description="At least 12 characters; a few unrelated words work well.",
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the new password",
                            validators=[InputRequired(), EqualTo("password", "The two passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class AcceptForm(_NewPassword, FlaskForm):
    """Accepting an invitation: a password (the service checks the policy) and the second factor."""

    factor = RadioField("How will you confirm it is you when signing in?", choices=options(FACTORS.items()),
                        validators=[InputRequired(message="Choose one of the two ways.")])


class PortalCodeForm(FlaskForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false",
                                  "autocapitalize": "off"})

    def validate_code(self, field):
        if not totp.looks_like_totp(field.data):
            raise ValidationError(f"Enter the {totp.DIGITS}-digit code.")


class PasswordChangeForm(_NewPassword, FlaskForm):
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                            render_kw={"autocomplete": "current-password"})


class FactorChangeForm(FlaskForm):
    """Switching the second factor: the current password, then the new factor is confirmed."""

    factor = RadioField("Confirm sign-ins with", choices=options(FACTORS.items()),
                        validators=[InputRequired(message="Choose one of the two ways.")])
    current = PasswordField("Current password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                            render_kw={"autocomplete": "current-password"})


class FactorChoiceForm(FlaskForm):
    """While enrolling: the way of confirming sign-ins to set up (or the other one instead)."""

    factor = RadioField("Confirm sign-ins with", choices=options(FACTORS.items()),
                        validators=[InputRequired(message="Choose one of the two ways.")])


class TurnOffForm(FlaskForm):
    """Staff confirm turning a patient's portal account off (portal/staff.py), saying why."""

    why = TextAreaField("Why is the account turned off?", validators=[InputRequired(), Length(max=200)],
                        description="Shown on the patient page's portal card to the clinic, never to the patient, "
                                    "e.g. \u201cthe patient asked; phone lost\u201d. Up to 200 characters.")

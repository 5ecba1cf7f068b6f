"""Forms for signing in and for the admin's user management."""
from __future__ import annotations

import re
import unicodedata

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Email, EqualTo, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..web.fields import options
from .models import LICENCE_TYPES, ROLE_LABELS
from .passwords import MAX_LENGTH, password_problem


#: digits, spaces, + ( ) - and dots, 7 to 25 of them, then an optional extension ("x 12", "ext. 12"); spaces
#: only around the extension (a line break or a control character there reached the PDFs that print it)
_WORK_PHONE = re.compile(r"\+?([0-9 ()\-.]{7,25})(?: *(?:x|ext\.?) *[0-9]{1,6})?", flags=re.IGNORECASE)
#: digits a number to dial has at least, before any extension: "((((((((" or "........" is none
MIN_PHONE_DIGITS = 7


def work_phone(form, field) -> None:
    """A number someone can dial, as _WORK_PHONE's comment says; ValidationError otherwise."""
    match = _WORK_PHONE.fullmatch(field.data or "")
    if match is None or sum(c.isdigit() for c in match.group(1)) < MIN_PHONE_DIGITS:
        raise ValidationError("Write a phone number: digits, spaces, + ( ) - and dots, then an extension if any "
                              "(\"ext. 12\").")


#: bidirectional embeddings, overrides and isolates: they make a name read otherwise than it is stored
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _noncharacter(c: str) -> bool:
    """Unicode's noncharacters (U+FDD0–U+FDEF, and U+xFFFE / U+xFFFF of every plane): XML 1.0 cannot hold
    U+FFFE or U+FFFF, and none of them is text anyone types."""
    code = ord(c)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def refused_character(c: str) -> bool:
    """A character no printed document or its metadata holds as written: a control character, a
    surrogate, a noncharacter, a line or paragraph separator, or a bidirectional control."""
    return unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in _BIDI_CONTROLS or _noncharacter(c)


def shown_text(form, field) -> None:
    """Text that documents print and their metadata carry (a name on a report and in its PDF's XMP,
    which XML 1.0 cannot hold a control character in): no refused_character; ValidationError otherwise."""
    if any(refused_character(c) for c in field.data or ""):
        raise ValidationError("Use letters, digits, spaces and punctuation only: no control characters or "
                              "line breaks.")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[InputRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(
        "Username", validators=[InputRequired(), Length(min=3, max=64),
                                Regexp(r"^[A-Za-z0-9._-]+$",
                                       message="Use letters, digits, dots, dashes or underscores.")],
        render_kw={"autocomplete": "off"})
    full_name = StringField("Full name", validators=[InputRequired(), Length(max=120), shown_text])
    licence_type = SelectField("Credential (licence type)",
                               choices=options([("", "None")] + [(code, f"{code} — {label}") for code, label
                                                                 in LICENCE_TYPES.items()]),
                               validators=[Optional()],
                               description="Shown after the name on dosing records, REMS forms and reports "
                                           "(\"A. Example, RN\").")
    licence_number = StringField("Licence number", validators=[Optional(), Length(max=40), shown_text])
    credentials = StringField("Further credentials", validators=[Optional(), Length(max=40), shown_text],
                              description="Shown after the licence type, e.g. PMHNP-BC.")
    email = StringField("Email", validators=[Optional(), Email(), Length(max=254)],
                        description="Given, with the work phone, as the way to reach the author of the reports "
                                    "and discharge summaries this user writes.")
    phone = StringField("Work phone", filters=[lambda value: value.strip() if value else value],
                        validators=[Optional(), Length(max=40), work_phone],
                        render_kw={"autocomplete": "off", "inputmode": "tel"},
                        description="A direct line, or the clinic's number with an extension (\"555-0100 ext. 12\"). "
                                    "Leave empty to give the clinic's phone number.")
    # checked by the service (https, no placeholders, length: domain/video_links.py); a far longer
    # paste is refused here first
    video_room_url = StringField("Own video room (telehealth)", validators=[Optional(), Length(max=1000)],
                                 render_kw={"autocomplete": "off", "inputmode": "url", "spellcheck": "false"},
                                 description="An https:// address of this clinician's own room on the clinic's "
                                             "video service, used for all their telehealth sessions. Leave empty "
                                             "to give each session its own room from the clinic's address template.")
    roles = MultiCheckboxField("Roles", choices=options(ROLE_LABELS.items()),
                               validators=[InputRequired(message="Choose at least one role.")])
    active = BooleanField("Account active", default=True,
                          description="Disabling signs the user out everywhere at once.")


class _PasswordFields:
    """A new password and its repetition, checked against the clinic policy."""

    password = PasswordField("New password", validators=[InputRequired()],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat password",
                            validators=[InputRequired(), EqualTo("password", "The passwords differ.")],
                            render_kw={"autocomplete": "new-password"})

    def validate_password(self, field):
        username = getattr(self, "username", None)
        problem = password_problem(field.data or "", username.data if username else "")
        if problem:
            raise ValidationError(problem)


class NewUserForm(_PasswordFields, UserForm):
    pass


class PasswordResetForm(_PasswordFields, FlaskForm):
    pass

"""Signing a form of the patient's packet, as the portal's pages and the clinic tablet's share it: which
forms are left to sign, the answer form of one (signed_forms/answer_form.py), and the signature through
signed_forms.services.sign_form, whose refusals go back on the form's fields (the answers, the typed name,
the agreement) and change nothing."""
from __future__ import annotations

from ..db.types import utcnow
from ..signed_forms import services as signed_forms
from ..signed_forms.answer_form import answer_form_class
from ..web.forms import submit

#: the states of a packet's form the patient is asked to sign (again): a withdrawn consent is restored by
#: signing it again
TO_SIGN = ("to_sign", "sign_again", "withdrawn")
#: each state as a reader sees it
STATE_WORDS = {"to_sign": "To sign", "sign_again": "To sign again: the form has changed", "signed": "Signed",
               "withdrawn": "Withdrawn"}


def left_to_sign(status) -> list:
    """The packet's forms waiting for the patient's signature, in the packet's order (one whose file cannot
    be used is not offered: the packet page says so to staff)."""
    return [item for item in status.items if item.state in TO_SIGN and item.form is not None] \
        if status is not None else []


def item_to_sign(status, form_id: str):
    """The packet's item of this form if it waits for a signature, else None."""
    return next((item for item in left_to_sign(status) if item.form_id == form_id), None)


def answer_form(item, formdata=None):
    """The answer form of the item's current version (the submitted one on a POST; `formdata`: what a timed-out
    session kept, offered back on the GET)."""
    return answer_form_class(item.form)(formdata=formdata) if formdata is not None else answer_form_class(item.form)()


def sign(course, item, form, *, method: str, portal_account=None, witness=None):
    """(done, the SignedForm): the form checked, then signed by the service; a refusal's reasons are on `form`.
    "Add more medication rows" signs nothing: (False, None) with no reasons, the form offered again."""
    if form.adding_rows:
        return False, None
    agreed = bool(form.agreed.data) if "agreed" in form else True  # only a consent has an agreement to tick
    return submit(form, lambda: signed_forms.sign_form(
        course, item.form.id, raw_answers=form.raw_answers(), typed_name=form.typed_name.data, agreed=agreed,
        method=method, portal_account=portal_account, witness=witness, now=utcnow()))

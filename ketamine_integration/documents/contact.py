"""How a document's reader reaches its author: the author's own email and the clinic's phone, in words."""
from __future__ import annotations


def contact_line(email: str | None, clinic_phone: str | None) -> str:
    """"email a@example.org; clinic phone 555-0100", with the parts on file ("" when neither is)."""
    parts = ([f"email {email}"] if email else []) + ([f"clinic phone {clinic_phone}"] if clinic_phone else [])
    return "; ".join(parts)

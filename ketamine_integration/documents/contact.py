"""How a document's reader reaches its author: their email and their work phone, or the clinic's."""
from __future__ import annotations


def contact_line(email: str | None, phone: str | None, clinic_phone: str | None) -> str:
    """"email a@example.org; phone 555-0100 ext. 12" with the parts on file; the clinic's phone where the
    author has none of their own ("" when nothing is on file)."""
    parts = [f"email {email}"] if email else []
    if phone:
        parts.append(f"phone {phone}")
    elif clinic_phone:
        parts.append(f"clinic phone {clinic_phone}")
    return "; ".join(parts)

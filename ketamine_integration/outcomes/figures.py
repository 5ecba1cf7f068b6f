"""How the outcomes page, its charts and its CSV write a figure: the one percent formatter, and the words
in place of a hidden row's figures."""
from __future__ import annotations

from ..domain.disclosure import COMPLEMENT, SHARED


def percent(rate: float | None, *, missing: str = "—") -> str:
    """A rate (0-1) as a whole percent, "42%"; `missing` where there is none (nothing to divide by)."""
    return missing if rate is None else f"{rate * 100:.0f}%"


def share(part: int, whole: int) -> float:
    """part of whole as a rate (0-1); 0 when whole is 0 (a bar of no length)."""
    return part / whole if whole else 0.0


def hidden_text(why: str, min_group: int, *, of: str = "patients") -> str:
    """Why a row shows no figure (domain.disclosure's SMALL, COMPLEMENT or SHARED), in place of them: never a blank.
    `of` names what is counted ("patients measured" for the PHQ-9 rows)."""
    if why == COMPLEMENT:
        return "hidden too, so that a smaller hidden group cannot be worked out by subtraction"
    if why == SHARED:
        return "hidden, as a patient here is counted in another row of the table too"
    return f"fewer than {min_group} {of} (hidden)"

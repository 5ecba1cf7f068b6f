"""Protocols where dosing and integration alternate (`integration.alternates_with_dosing`, IM KAP):
whether the dose about to be recorded follows a window left without an integration session.

A warning, never a refusal: the prescriber may have good reason to dose (a session held outside the
app and not yet entered, a patient who declined), and a dose is not withheld by a booking form.
Pure: the previous doses' coverage comes in as an argument.
"""
from __future__ import annotations

from collections.abc import Iterable

from .coverage import Coverage


def window_left_empty(doses: Iterable[tuple[int, Coverage | None]], sequence: int) -> int | None:
    """The sequence of the dose before dose `sequence` when its window has no integration session
    held or booked (uncovered: nothing, or only no-shows and cancellations); else None.

    doses: (sequence, coverage of its window) of the course's doses not cancelled, the coverage None
    for a dose without a window yet (not signed: its end may still change). Only the dose right
    before counts: an older gap was that dose's to warn about, and a dose before it without a
    window yet has nothing to warn about."""
    earlier = [(number, state) for number, state in doses if number < sequence]
    if not earlier:
        return None
    number, state = max(earlier, key=lambda dose: dose[0])
    return number if state is Coverage.UNCOVERED else None

"""Rules of the messages the clinic sends: a discreet sender name, the back-off between attempts."""
from __future__ import annotations

import re

#: words a sender name patients' housemates may see must not carry (issue 22: discreet by default)
CLINICAL_WORDS = frozenset({
    "ketamine", "esketamine", "spravato", "psychedelic", "psychiatry", "psychiatric", "psychotherapy",
    "therapy", "therapeutics", "mental", "health", "depression", "infusion", "infusions", "wellness",
    "addiction", "recovery", "behavioral", "behavioural", "medical", "medicine", "treatment",
})
#: what a clinic whose name is all clinical words is called on its messages
FALLBACK_SENDER_NAME = "Appointments"


def discreet_name(clinic_name: str) -> str:
    """The clinic's name without brackets and clinical words: "Harbor Light Ketamine Clinic
    (demo)" is "Harbor Light Clinic"."""
    without_brackets = re.sub(r"\([^)]*\)|\[[^]]*\]", " ", clinic_name)
    words = [w for w in without_brackets.split() if w.strip(",.&-").lower() not in CLINICAL_WORDS]
    kept = " ".join(w for w in words if w.strip(",.&-")).strip(" ,.&-")
    return kept or FALLBACK_SENDER_NAME


def retry_delay(failed_attempts: int, first_delay_seconds: int) -> int:
    """Seconds to wait after the `failed_attempts`-th failure: the first delay, doubling after
    each further failure (60, 120, 240, 480 s), so a server that is down is not hammered."""
    if failed_attempts < 1:
        raise ValueError("a retry follows at least one failed attempt")
    return first_delay_seconds * 2 ** (failed_attempts - 1)

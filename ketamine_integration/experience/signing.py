"""What signing a dosing record still needs, read from the record as saved or as just submitted,
and the one refusal that names it all, each need on its form field.

The rules are domain.signing; this module feeds them a session or a submission, and adds the
spacing check, which reads the course's other doses. "Sign and lock" with a save that is
refused shows the save's problems and the signature's needs together (services.save_record);
a save that passes and a signature that does not keep the save and show the needs on the
saved record's form (views: ?check=signing).
"""
from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import User
from ..db.errors import DomainError
from ..extensions import db
from ..domain.signing import Need, RecordFacts, signature_needs, summary
from ..domain.vitals import READINGS, Response
from ..protocols.services import protocol_of
from . import monitoring, plan_rules
from .models import DosingSession
from .signatures import RECORD_FIELDS
from .wording import needs_in_setting

#: the refusal's first words
NOT_SIGNED = "Not signed. Still needed: "


class SignatureRefused(DomainError):
    """A record that is not complete enough to sign: its needs, each on its field, and a summary."""

    def __init__(self, needs: list[Need], prefix: str = NOT_SIGNED):
        self.needs = needs
        reasons = {"": prefix + summary(needs) + "."}
        for need in needs:
            reasons[need.field] = f"{reasons[need.field]} {need.message}" if need.field in reasons else need.message
        super().__init__(reasons)


def saved_facts(session: DosingSession) -> RecordFacts:
    responses = monitoring.responses_of(session)
    return RecordFacts({name: getattr(session, name) for name in RECORD_FIELDS}, monitoring.readings_of(session),
                       responses, _may_override(responses), session.discharge_checks)


def _may_override(responses) -> frozenset[int]:
    """The responses' deciders who may keep a dose past the protocol's limits (dosing.override)."""
    deciders = {r.decided_by for r in responses.values() if r.decided_by}
    if not deciders:
        return frozenset()
    return frozenset(user.id for user in db.session.scalars(select(User).where(User.id.in_(sorted(deciders))))
                     if user.can("dosing.override"))


def submitted_facts(values: dict, vitals: dict[str, dict], responses: dict[str, dict] | None,
                    discharge_checks: dict | None) -> RecordFacts:
    """The record as the form submits it: a response with nothing under "what was done" is none
    (experience.monitoring.save_monitoring drops it)."""
    answers = {timepoint: Response(timepoint, answer["action"].strip(), answer.get("decided_by_id"),
                                   answer.get("later_at"), {name: answer.get(f"later_{name}") for name in READINGS})
               for timepoint, answer in (responses or {}).items() if (answer.get("action") or "").strip()}
    readings = {timepoint: {name: reading.get(name) for name in READINGS} for timepoint, reading in vitals.items()}
    return RecordFacts(values, readings, answers, _may_override(answers), discharge_checks)


def needs_of(session: DosingSession) -> list[Need]:
    """What the saved record still needs before it is signed, the course's spacing included: a draft
    saved before the spacing rules, or whose neighbours moved since, may break it with no reason."""
    needs = needs_in_setting(signature_needs(saved_facts(session), protocol_of(session.course.protocol_version)),
                             session.setting)
    spacing = plan_rules.unexplained_spacing(session)
    if spacing:
        needs.append(Need("spacing_reason", "a prescriber's reason for keeping a dose that breaks the protocol's "
                                            "spacing (save it with the record): " + " ".join(spacing)))
    return needs


def submitted_needs(session: DosingSession, values: dict, vitals: dict[str, dict], responses: dict[str, dict] | None,
                    discharge_checks: dict | None) -> list[Need]:
    """What the submitted record would still need to be signed (its spacing is the save's check)."""
    return needs_in_setting(signature_needs(submitted_facts(values, vitals, responses, discharge_checks),
                                            protocol_of(session.course.protocol_version)), session.setting)


def with_needs(problems: dict[str, str], needs: list[Need]) -> dict[str, str]:
    """A refused save's problems and, for "Sign and lock", what signing would still need: each on its
    field (after the field's own problem), and a summary saying that nothing was saved or signed."""
    merged = dict(problems)
    for need in needs:
        merged[need.field] = f"{merged[need.field]} {need.message}" if need.field in merged else need.message
    if needs:
        merged[""] = ("Nothing was saved or signed: correct the fields marked below. To be signed, the record also "
                      "needs: " + summary(needs) + ".")
    return merged

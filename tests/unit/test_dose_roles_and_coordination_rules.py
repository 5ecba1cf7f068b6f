"""Who may be named at a dose, how a person is shown with their credential, and what a due
report still needs: tables with a comment per row."""
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from ketamine_integration.coordination.due import report_missing
from ketamine_integration.domain.credentials import display_name
from ketamine_integration.domain.permissions import permissions_of
from ketamine_integration.domain.protocol_library import read_protocol_file
from ketamine_integration.experience.dose_roles import may_be_named

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
IV = read_protocol_file(PROTOCOLS / "iv-ketamine-induction.yaml")[0]
ALLOWING = IV.model_copy(update={"experience": IV.experience.model_copy(update={"therapist_may_monitor": True})})


@pytest.mark.parametrize("column, role, protocol, allowed", [
    ("administered_by_id", "prescriber", IV, True),       # a prescriber gives the dose
    ("administered_by_id", "nurse", IV, True),            # so does a nurse
    ("administered_by_id", "therapist", IV, False),       # never a therapist ...
    ("administered_by_id", "therapist", ALLOWING, False),  # ... even where a therapist may monitor
    ("administered_by_id", "staff", IV, False),           # never front-desk staff
    ("monitored_by_id", "prescriber", IV, True),          # a prescriber monitors
    ("monitored_by_id", "nurse", IV, True),               # a nurse monitors
    ("monitored_by_id", "therapist", IV, False),          # a therapist not, by default
    ("monitored_by_id", "therapist", ALLOWING, True),     # present as monitor only, where the protocol allows
    ("monitored_by_id", "staff", ALLOWING, False),        # front-desk staff never, whatever the protocol
    ("monitored_by_id", "admin", ALLOWING, False),        # nor the admin
])
def test_who_may_be_named_at_a_dose(column, role, protocol, allowed):
    assert may_be_named(column, permissions_of([role]), protocol) is allowed


@pytest.mark.parametrize("role, signs", [
    ("prescriber", True),    # the dose is ordered and signed by a prescriber
    ("therapist", False),    # a therapist records no dose and signs none
    ("nurse", False),        # a nurse records vitals, signs nothing
    ("staff", False),        # front desk: nothing clinical
])
def test_only_a_prescriber_signs_or_records_a_dose(role, signs):
    granted = permissions_of([role])
    assert ("dosing.sign" in granted, "dosing.record_dose" in granted) == (signs, signs)


def test_shipped_protocols_leave_therapist_monitoring_off():
    for path in sorted(PROTOCOLS.glob("*.yaml")):
        assert read_protocol_file(path)[0].experience.therapist_may_monitor is False, path.name


@pytest.mark.parametrize("licence, credentials, shown", [
    ("RN", None, "A. Example, RN"),                    # the licence type after the name
    (None, None, "A. Example"),                        # none held: the name alone
    ("NP", "PMHNP-BC", "A. Example, NP, PMHNP-BC"),    # further credentials after it
    ("MD", "md", "A. Example, MD"),                    # a credential repeating the licence: once
    (None, "LCSW", "A. Example, LCSW"),                # typed before licence types existed
    ("PhD", " , ", "A. Example, PhD"),                 # blank parts dropped
])
def test_a_person_is_shown_with_their_credential(licence, credentials, shown):
    assert display_name("A. Example", licence, credentials) == shown


@dataclass
class Prescriber:
    id: int
    full_name: str


@dataclass
class Release:
    recipient_user_id: int
    categories: list
    effective_on: date
    expires_on: date | None = None
    revoked_on: date | None = None

    def active_on(self, day):
        return (self.effective_on <= day and (self.expires_on is None or day <= self.expires_on)
                and (self.revoked_on is None or day < self.revoked_on))


TODAY = date(2026, 12, 2)
VALE, FAR = Prescriber(1, "Orrin Vale"), Prescriber(2, "Pia Far")
DOSING = "needs a release of information to Orrin Vale covering dosing and monitoring"


@pytest.mark.parametrize("prescribers, releases, needs, missing", [
    ([], [], "dosing", "needs a prescriber on the patient's care team"),          # nobody to write to
    ([VALE], [], "dosing", DOSING),                                               # no release at all
    ([VALE], [Release(1, ["measures"], TODAY)], "dosing", DOSING),                # a release, not for the doses
    ([VALE], [Release(1, ["dosing"], TODAY)], "dosing", None),                    # ready
    ([VALE], [Release(1, ["measures"], TODAY)], None, None),                      # a periodic report: any release
    ([VALE], [Release(2, ["dosing"], TODAY)], "dosing", DOSING),                  # the release names someone else
    ([VALE], [Release(1, ["dosing"], TODAY + timedelta(days=1))], "dosing", DOSING),  # not yet effective
    ([VALE], [Release(1, ["dosing"], TODAY - timedelta(days=9), revoked_on=TODAY)], "dosing", DOSING),  # revoked
    ([VALE, FAR], [Release(2, ["dosing"], TODAY)], "dosing", None),               # either care-team prescriber
    ([VALE, FAR], [], None, "needs a release of information to Orrin Vale or Pia Far"),  # both named
])
def test_what_a_due_report_still_needs(prescribers, releases, needs, missing):
    assert report_missing(prescribers, releases, needs, TODAY) == missing

"""Protocol files: the shipped ones are valid, and each kind of mistake is named precisely."""
import copy
from pathlib import Path

import pytest
import yaml

from ketamine_integration.domain import form_library
from ketamine_integration.domain.protocol_forms import with_forms
from ketamine_integration.domain.protocol_library import ProtocolLibrary, read_protocol_file
from ketamine_integration.domain.protocols import (ProtocolError, Span, content_hash, parse_duration,
                                                   validate_definition)

PROTOCOLS = Path(__file__).resolve().parents[2] / "protocols"
SHIPPED = sorted(PROTOCOLS.glob("*.yaml"))
FORMS = PROTOCOLS.parent / "forms"


def test_four_protocols_ship_and_all_are_valid():
    library = ProtocolLibrary.load(PROTOCOLS)
    assert {e.protocol.id for e in library.valid_entries()} == {
        "iv-ketamine-induction", "im-ketamine-kap", "sublingual-ketamine-kap", "esketamine-trd-rems"}
    assert [e.problems for e in library.entries if not e.valid] == []


def test_shipped_values_follow_the_brief():
    iv = ProtocolLibrary.load(PROTOCOLS).find("iv-ketamine-induction", 3).protocol
    assert iv.experience.max_series_sessions == 6 and iv.experience.max_series_days == 21
    assert iv.integration.window.optimal_until == Span(72, "h")
    assert iv.integration.window.closes_after == Span(14, "d")
    esk = ProtocolLibrary.load(PROTOCOLS).find("esketamine-trd-rems", 3).protocol
    assert esk.experience.rems_monitoring_form and esk.experience.min_monitoring_minutes >= 120
    # the label's schedule: 8 twice weekly, 4 weekly, then maintenance; 56 mg on day 1, 56 or 84 mg after
    assert [s.sessions.max for s in esk.experience.series_stages] == [8, 4]
    assert esk.experience.plan[0].first_dose.choices == (56,) and esk.experience.dose.usual.choices == (56, 84)
    im = ProtocolLibrary.load(PROTOCOLS).find("im-ketamine-kap", 4).protocol
    assert (im.experience.min_series_sessions, im.experience.max_series_sessions) == (3, 6)
    newest = {e.protocol.id: e.protocol for e in ProtocolLibrary.load(PROTOCOLS).newest()}
    assert all(p.experience.maintenance_stage is not None for p in newest.values()) and len(newest) == 4
    # IM KAP alternates dosing and integration (the brief); the others let windows overlap
    assert {key for key, p in newest.items() if p.integration.alternates_with_dosing} == {"im-ketamine-kap"}
    # a therapist is present through each dose of ketamine-assisted psychotherapy only (issue 20, point 9)
    assert {key for key, p in newest.items() if p.experience.therapist_present} == {"im-ketamine-kap", "sublingual-ketamine-kap"}


def _base() -> dict:
    return yaml.safe_load((PROTOCOLS / "iv-ketamine-induction.yaml").read_text())


def _set(data: dict, dotted: str, value):
    node = data
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key) if isinstance(node, list) else key]
    last = int(last) if isinstance(node, list) else last
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize("field, value, path, problem", [
    # unknown key: a typo must not silently drop a rule
    ("experience.dosing_sesions", 6, "experience.dosing_sesions", "unknown key"),
    # missing key
    ("integration.window.closes_after", _DELETE, "integration.window.closes_after", "required key is missing"),
    # wrong types
    ("experience.stages.0.sessions.min", "six", "experience.stages[0].sessions.min", "valid integer"),
    ("experience.rems_monitoring_form", "yes", "experience.rems_monitoring_form", "valid boolean"),
    # whether a therapist is present at dosing (and so writes a dosing-session note) is a yes or no
    ("experience.therapist_present", "sometimes", "experience.therapist_present", "valid boolean"),
    ("integration.alternates_with_dosing", "often", "integration.alternates_with_dosing", "valid boolean"),
    ("integration.window.opens_after", 24, "integration.window.opens_after", "'24h' or '14d'"),
    ("evidence", "Li 2010", "evidence", "must be a valid array"),
    # impossible values
    ("experience.stages.0.sessions.min", -1, "experience.stages[0].sessions.min", "greater than or equal to 0"),
    ("experience.stages.0.days_between.max", 1, "experience.stages[0].days_between", "max (1) is below min (2)"),
    ("experience.max_series_days", 3, "experience", "cannot hold 6 sessions"),
    # broken stages: each names the stage and what is wrong with it
    ("experience.stages.0.days_between.min", 0, "experience.stages[0]", "two doses on one day are never planned"),
    ("experience.stages.0.sessions", {"min": 6}, "experience.stages[0]", "needs a maximum number of sessions"),
    ("experience.stages.0.within_days", 5, "experience.stages[0]", "within_days (5) cannot hold 6 sessions"),
    ("experience.stages.0.phase", "maintenance", "experience", "the first stage must be part of the series"),
    ("experience.stages.1.phase", "weekly", "experience.stages[1].phase", "must be 'series' or 'maintenance'"),
    ("experience.stages.0.doses", {"choices": [56], "min": 1, "max": 2}, "experience.stages[0].doses",
     "either choices"),
    ("experience.stages", [], "experience", "stages is missing"),
    ("experience.dosing_sessions", 6, "experience", "give either stages or dosing_sessions"),
    # doses: the unit follows the route, the limit is above the usual doses
    ("experience.dose.unit", "mg", "(top level)", "a iv dose is stated in mg/kg"),
    ("experience.dose.limit", 0.8, "experience.dose", "limit (0.8) is below the usual doses"),
    ("experience.settings", ["in_clinic", "supervised_at_home"], "(top level)", "supervised_at_home is only for"),
    ("integration.window.closes_after", "12h", "integration.window", "closes before (or when) it opens"),
    ("integration.window.optimal_until", "15d", "integration.window", "optimal_until must lie between"),
    ("route", "oral-ish", "route", "must be 'iv'"),
    ("id", "IV Ketamine", "id", "lower-case letters"),
    ("version", 0, "version", "greater than or equal to 1"),
    ("preparation.required_items", ["intake_assessment", "intake_assessment"], "preparation.required_items",
     "more than once"),
    ("preparation.required_items", ["tarot_reading"], "preparation.required_items[0]", "must be 'intake_assessment'"),
    ("measures", [{"measure": "bdi", "at": ["baseline"]}], "measures[0].measure",
     "must be 'phq9', 'gad7', 'cssrs', 'pcl5', 'wsas' or 'waisr'"),
    ("coordination.report_after_dosing", [9], "(top level)", "names session(s) [9]"),
    ("medication", "esketamine", "(top level)", "route must be 'intranasal'"),
    ("evidence", [], "evidence", "at least 1 item"),
    # the forms the preparation needs: a list of form ids, each once
    ("preparation.forms", "consent-iv-ketamine", "preparation.forms", "must be a valid array"),
    ("preparation.forms", ["intake-questionnaire", "intake-questionnaire"], "preparation.forms", "more than once"),
    ("preparation.forms", [""], "preparation.forms[0]", "must have at least 1 character"),
])
def test_each_kind_of_error_names_file_field_and_problem(field, value, path, problem):
    data = _set(copy.deepcopy(_base()), field, value)
    with pytest.raises(ProtocolError) as caught:
        validate_definition(data, "broken.yaml")
    lines = caught.value.lines()
    assert any(line.startswith(f"broken.yaml: {path}: ") and problem in line for line in lines), lines


def test_alternating_needs_an_integration_session_per_dose():
    """Dosing and integration alternate only if each dose has a session to alternate with."""
    data = _set(_set(copy.deepcopy(_base()), "integration.alternates_with_dosing", True),
                "integration.min_sessions_per_dosing", 0)
    with pytest.raises(ProtocolError) as caught:
        validate_definition(data, "broken.yaml")
    assert caught.value.lines() == ["broken.yaml: integration: alternates_with_dosing: dosing and integration "
                                    "alternate only when each dose has an integration session "
                                    "(min_sessions_per_dosing is 0)"]
    # without the field (every version-2 snapshot), a protocol does not alternate
    assert validate_definition(_base(), "iv.yaml").integration.alternates_with_dosing is False


# (what is wrong, the forms named, the problem of the protocol file)
FORM_ERRORS = [
    ("unknown form", ["consent-iv-ketamine", "consent-tarot"],
     "iv.yaml: preparation.forms[1]: 'consent-tarot' is not a usable form of the form library (forms/; "
     "`flask forms check` lists the files and their problems)"),
    ("consent to another route", ["consent-im-ketamine"],
     "iv.yaml: preparation.forms[0]: consent-im-ketamine is a consent to im treatment; this protocol's route is iv"),
]


@pytest.mark.parametrize("forms, problem", [r[1:] for r in FORM_ERRORS], ids=[r[0] for r in FORM_ERRORS])
def test_the_forms_a_protocol_names_are_checked_against_the_form_library(tmp_path, forms, problem):
    (tmp_path / "iv.yaml").write_text(yaml.safe_dump(_set(_base(), "preparation.forms", forms)))
    library = with_forms(ProtocolLibrary.load(tmp_path), form_library.load_folder(FORMS))
    [entry] = library.entries
    assert not entry.valid and entry.problems == (problem,)


def test_the_shipped_protocols_name_their_route_s_consent_and_the_shared_forms():
    library = with_forms(ProtocolLibrary.load(PROTOCOLS), form_library.load_folder(FORMS))
    assert [e.problems for e in library.entries if not e.valid] == []
    shared = {"consent-psychotherapy-integration", "agreement-transport-no-driving", "intake-questionnaire"}
    forms = {e.protocol.id: set(e.protocol.preparation.forms) for e in library.newest()}
    assert forms == {"iv-ketamine-induction": shared | {"consent-iv-ketamine"},
                     "im-ketamine-kap": shared | {"consent-im-ketamine"},
                     "esketamine-trd-rems": shared | {"consent-intranasal-esketamine"},
                     # at-home doses are supervised by video
                     "sublingual-ketamine-kap": shared | {"consent-sublingual-ketamine", "consent-telehealth"}}
    # a snapshot of an older version names no forms: its course keeps the hand-recorded items
    older = {k: v for k, v in _base().items()}
    del older["preparation"]["forms"]
    assert validate_definition(older, "old.yaml").preparation.forms == ()


def test_not_a_mapping_and_not_yaml_are_named(tmp_path):
    (tmp_path / "list.yaml").write_text("- just\n- a list\n")
    (tmp_path / "bad.yaml").write_text("id: [unclosed\n")
    library = ProtocolLibrary.load(tmp_path)
    problems = {e.path.name: e.problems[0] for e in library.entries}
    assert problems["list.yaml"] == "list.yaml: (top level): must be a mapping of keys to values"
    assert problems["bad.yaml"].startswith("bad.yaml: line 2, column 1: is not valid YAML")


def test_two_files_with_the_same_id_and_version_are_both_refused(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text((PROTOCOLS / "iv-ketamine-induction.yaml").read_text())
    library = ProtocolLibrary.load(tmp_path)
    assert library.valid_entries() == []
    assert "is also defined in b.yaml" in library.entries[0].problems[0]


def test_newest_version_is_what_new_courses_get(tmp_path):
    older = _base()
    newer = dict(_base(), version=older["version"] + 1, summary="Revised summary.")
    (tmp_path / "older.yaml").write_text(yaml.safe_dump(older))
    (tmp_path / "newer.yaml").write_text(yaml.safe_dump(newer))
    [newest] = ProtocolLibrary.load(tmp_path).newest()
    assert newest.protocol.version == newer["version"]


def test_hash_ignores_layout_but_not_content():
    data = _base()
    reordered = dict(reversed(list(data.items())))
    assert content_hash(data) == content_hash(reordered)
    assert content_hash(data) != content_hash(dict(data, summary="changed"))


@pytest.mark.parametrize("text, expected", [
    ("24h", Span(24, "h")),      # hours stay hours (elapsed time)...
    ("1.5h", Span(1.5, "h")),
    ("14d", Span(14, "d")),      # ...and days stay days (calendar days)
    (" 7 d ", Span(7, "d")),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["24", "3w", "-1d", "", "h", "1.5d"])
def test_parse_duration_refuses_ambiguous_units(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_read_protocol_file_refuses_non_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ProtocolError, match="latin1.yaml: \\(file\\): is not UTF-8 text"):
        read_protocol_file(path)


@pytest.mark.parametrize("field, value, problem", [
    ("integration.window.closes_after", "99999999999h", "longer than any clinic protocol needs"),
    ("integration.window.closes_after", "9999999999d", "longer than any clinic protocol needs"),
    ("version", 10**12, "less than or equal to 1000000"),
])
def test_absurd_values_are_named_not_crashes(field, value, problem):
    data = _set(copy.deepcopy(_base()), field, value)
    with pytest.raises(ProtocolError) as caught:
        validate_definition(data, "absurd.yaml")
    assert any(problem in line for line in caught.value.lines()), caught.value.lines()


def test_a_version_1_definition_still_reads_as_one_stage_and_its_spacing():
    """Courses pin snapshots of version 1 files: they parse, and become one series stage whose
    minimum spacing also spaces maintenance doses."""
    v1 = _base()
    experience = {k: v for k, v in v1["experience"].items() if k not in ("stages", "dose", "settings")}
    v1.update(version=1, experience=dict(experience, dosing_sessions=6, min_days_between=1, max_days_between=7,
                                         max_series_days=21))
    protocol = validate_definition(v1, "v1.yaml")
    [series] = protocol.experience.series_stages
    assert (series.sessions.min, series.sessions.max, series.days_between.min, series.days_between.max) == (6, 6, 1, 7)
    assert protocol.experience.maintenance_stage.days_between.min == 1
    assert protocol.experience.dose is None and not protocol.experience.at_home_allowed


def _esketamine() -> dict:
    return yaml.safe_load((PROTOCOLS / "esketamine-trd-rems.yaml").read_text())


NO_READINGS = {"vital_signs.baseline.required": [], "vital_signs.post_40.required": [],
               "vital_signs.discharge.required": []}


@pytest.mark.parametrize("base, changes, path, problem", [
    # a stage's usual doses above the protocol's limit would be refused as typing errors
    (_esketamine, {"experience.stages.0.first_dose": {"choices": [500]}}, "experience",
     "stages[0].first_dose: 500 mg is above dose.limit (84 mg)"),
    (_esketamine, {"experience.stages.1.doses": {"min": 10, "max": 9000}}, "experience",
     "stages[1].doses: 9000 mg is above dose.limit (84 mg)"),
    (_base, {"experience.stages.0.doses": {"min": 0.5, "max": 3}}, "experience",      # IV, in mg/kg
     "stages[0].doses: 3 mg/kg is above dose.limit (2 mg/kg)"),
    (_base, {"experience.stages.0.doses": {"min": 0.5, "max": 1}, "experience.dose": _DELETE}, "experience",
     "stages[0].doses: usual doses of a stage need the protocol's dose rule"),        # stage doses, no rule
    # REMS: at least two hours of monitoring, blood pressure before and about 40 minutes after, SpO2
    (_esketamine, {"experience.min_monitoring_minutes": 0}, "experience",
     "min_monitoring_minutes: REMS monitoring lasts at least 120 minutes (rems_monitoring_form is true), not 0"),
    (_esketamine, NO_READINGS, "(top level)",                                         # nothing required anywhere
     "vital_signs.baseline.required: REMS needs blood pressure before dosing"),
    (_esketamine, {"vital_signs.post_40.required": ["heart_rate", "spo2"]}, "(top level)",
     "vital_signs.post_40.required: REMS needs blood pressure about 40 minutes after dosing"),
    (_esketamine, {f"vital_signs.{t}.required": ["blood_pressure", "heart_rate"]        # no pulse oximetry
                   for t in ("baseline", "post_40", "discharge")}, "(top level)",
     "vital_signs: REMS monitoring includes pulse oximetry: require spo2"),
    # text must say something once stripped
    (_base, {"evidence.0.source": " "}, "evidence[0].source", "must not be blank"),
    (_base, {"evidence.0.claim": "\n\t"}, "evidence[0].claim", "must not be blank"),
    (_esketamine, {"vital_signs.sources.1.source": " "}, "vital_signs.sources[1].source", "must not be blank"),
    (_base, {"experience.stages.0.name": "  "}, "experience.stages[0].name", "must not be blank"),
    (_base, {"summary": " "}, "summary", "must not be blank"),
    (_base, {"experience.dose_guidance": " "}, "experience.dose_guidance", "must not be blank"),
])
def test_internally_inconsistent_files_are_refused_naming_the_field(base, changes, path, problem):
    data = copy.deepcopy(base())
    for field, value in changes.items():
        _set(data, field, value)
    with pytest.raises(ProtocolError) as caught:
        validate_definition(data, "inconsistent.yaml")
    lines = caught.value.lines()
    assert any(line.startswith(f"inconsistent.yaml: {path}: ") and problem in line for line in lines), lines


@pytest.mark.parametrize("changes", [
    NO_READINGS | {"experience.rems_monitoring_form": False},                     # outside REMS the protocol chooses
    {"experience.rems_monitoring_form": False, "experience.min_monitoring_minutes": 0},
    {"experience.stages.1.doses": {"choices": [56, 84]}},                         # at the limit is within it
])
def test_the_rems_and_dose_rules_leave_consistent_files_alone(changes):
    data = copy.deepcopy(_esketamine())
    for field, value in changes.items():
        _set(data, field, value)
    assert validate_definition(data, "fine.yaml").id == "esketamine-trd-rems"


def test_a_version_1_rems_snapshot_without_vital_signs_still_reads():
    """A course pinned to the first esketamine file (no vital_signs section, one spacing rule) reads:
    the default readings require blood pressure before and after dosing and SpO2 before it."""
    v1 = _esketamine()
    experience = {k: v for k, v in v1["experience"].items() if k not in ("stages", "dose", "settings")}
    del v1["vital_signs"]
    v1.update(version=1, experience=dict(experience, dosing_sessions=12, min_days_between=2, max_days_between=8,
                                         max_series_days=56))
    protocol = validate_definition(v1, "esketamine-v1.yaml")
    assert protocol.experience.rems_monitoring_form and protocol.vital_signs.baseline.required

"""A service's reasons land on the form field they name, rows of repeated sub-forms included."""
import pytest
from wtforms import FieldList, Form, FormField, StringField

from ketamine_integration.db.errors import DomainError, _field_at


class _Reading(Form):
    systolic = StringField()


class _Theme(Form):
    theme = StringField()
    free_theme = StringField()


class _Visit(Form):
    when = StringField()
    readings = FieldList(FormField(_Reading), min_entries=2)


class _Note(Form):
    mrn = StringField()
    baseline = FormField(_Reading)
    themes = FieldList(FormField(_Theme), min_entries=3)
    tags = FieldList(StringField(), min_entries=2)
    visits = FieldList(FormField(_Visit), min_entries=2)


@pytest.fixture
def form():
    return _Note()


@pytest.mark.parametrize("path, html_id", [
    ("mrn", "mrn"),                                         # a field of the form
    ("baseline.systolic", "baseline-systolic"),             # a FormField's field, dotted
    ("baseline-systolic", "baseline-systolic"),             # ... or as its HTML name
    ("themes-0-free_theme", "themes-0-free_theme"),         # a row of a FieldList, as WTForms names it
    ("themes.2.theme", "themes-2-theme"),                   # the same, dotted
    ("tags-1", "tags-1"),                                   # a FieldList of plain fields
    ("visits-1-readings-0-systolic", "visits-1-readings-0-systolic"),   # rows within rows
    ("visits.0.readings.1.systolic", "visits-0-readings-1-systolic"),   # ... dotted
])
def test_a_path_names_its_field(form, path, html_id):
    assert _field_at(form, path).id == html_id


@pytest.mark.parametrize("path", [
    "nurse",                        # no such field
    "themes-3-theme",               # past the last row
    "themes-x-theme",               # not a row number
    "themes-0-colour",              # no such field in the row
    "mrn-0",                        # a plain field has no rows
    "baseline.validate",            # a form's method is not a field
    "themes--theme",                # an empty step
])
def test_a_path_to_nothing_names_no_field(form, path):
    assert _field_at(form, path) is None


def test_domain_error_reasons_land_on_their_fields():
    form = _Note()
    general = DomainError({"mrn": "taken", "": "someone else saved"}).apply_to(form)
    assert form.mrn.errors == ["taken"]
    assert form.form_errors == ["someone else saved"] and general == ["someone else saved"]


def test_a_row_reason_lands_on_its_row_and_makes_the_form_invalid():
    form = _Note()
    assert form.validate() and form.errors == {}
    general = DomainError({"themes-1-free_theme": "Name the theme.",
                           "visits.1.readings.0.systolic": "Too high."}).apply_to(form)
    assert general == [] and form.form_errors == []
    assert form.themes[1].free_theme.errors == ["Name the theme."]
    assert [row.free_theme.errors for row in (form.themes[0], form.themes[2])] == [[], []]
    assert form.visits[1].readings[0].systolic.errors == ["Too high."]
    # the rows' lists report it, as validate() would have: the page answers 422 and says so
    assert form.errors["themes"] == [{}, {"free_theme": ["Name the theme."]}, {}]
    assert form.errors["visits"][1] == {"readings": [{"systolic": ["Too high."]}, {}]}


@pytest.mark.parametrize("path", [
    "themes",                       # the whole list: no one field to show it beside
    "themes-0",                     # a whole row
    "baseline",                     # a whole sub-form
    "themes-9-theme",               # a row that is not there
])
def test_a_reason_for_no_single_field_goes_to_the_top_of_the_form(path):
    form = _Note()
    assert DomainError({path: "Check these rows."}).apply_to(form) == ["Check these rows."]
    assert form.form_errors == ["Check these rows."]

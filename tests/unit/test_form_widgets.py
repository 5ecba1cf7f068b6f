"""templates/_forms.html writes radio lists and selects itself (speed: WTForms' widgets took
most of the measures and audit pages' time); they must stay exactly what WTForms' widgets
write, markup and escaping included, but for `required` on a select whose first option is a
real choice, which HTML does not allow (the W3C checker's error; issue 21, point 4)."""
import pytest
from jinja2 import Environment, FileSystemLoader
from wtforms import Form, RadioField, SelectField
from wtforms.validators import InputRequired, Optional

from ketamine_integration import PROJECT_ROOT
from ketamine_integration.web.fields import options

CHOICES = [("0", "Not at all"), ("1", 'Several <b>days</b> & "nights"'), ('2"><x', "More than half")]


def macros():
    env = Environment(loader=FileSystemLoader(PROJECT_ROOT / "templates"), autoescape=True)
    return env.get_template("_forms.html").module


@pytest.mark.parametrize("validators", [[InputRequired()], [Optional()]])
@pytest.mark.parametrize("data", [None, "1", '2"><x', "not offered"])
@pytest.mark.parametrize("prefix", ["", "phq9-"])
def test_radio_list_is_what_wtforms_writes(validators, data, prefix):
    class Measure(Form):
        item1 = RadioField("1. Little interest", choices=options(CHOICES), validators=validators)
    form = Measure(prefix=prefix, data={"item1": data} if data else None)
    assert str(macros().radio_list(form.item1)) == str(form.item1(class_="checkbox-list"))


@pytest.mark.parametrize("validators", [[InputRequired()], [Optional()]])
@pytest.mark.parametrize("data", [None, "1", '2"><x'])
@pytest.mark.parametrize("attrs", [{}, {"aria-describedby": "user-hint user-error", "aria-invalid": "true"},
                                   {"aria-describedby": 'x" onfocus="y'}])
def test_select_is_what_wtforms_writes(validators, data, attrs):
    class Filter(Form):
        user = SelectField("User", choices=options([("", "Anyone")] + CHOICES), validators=validators)
        clinician = SelectField("Clinician", coerce=int, choices=options([(7, "Ada <Q>"), (12, "Bo")]))
    form = Filter(data={"user": data, "clinician": 12} if data else None)
    for field in (form.user, form.clinician):
        assert str(macros().select_list(field, attrs)) == str(field(**attrs))


@pytest.mark.parametrize("choices, required", [
    ([("", "Choose a room"), ("1", "Cedar")], True),     # a placeholder to leave: the browser insists
    ([("1", "Cedar"), ("2", "Sage")], False),            # always a room chosen: nothing to insist on
    ([(0, "No room"), (1, "Cedar")], False),              # 0 is a choice ("no room"), not a placeholder
])
def test_a_select_is_required_only_with_an_empty_first_option(choices, required):
    class Booking(Form):
        room = SelectField("Room", choices=options(choices), validators=[InputRequired()])
    written = str(macros().select_list(Booking().room, {}))
    assert (" required" in written) is required, written

"""The outcomes page's filters: a calendar quarter of first doses, and a protocol (a GET form: it changes nothing)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField

from ..domain.disclosure import Quarter
from ..web.fields import options


class OutcomesFilterForm(FlaskForm):
    """No custom range: periods that overlap (Jan 1-Mar 31 against Jan 1-Mar 30) subtract into one patient's
    figures. The protocol filter shows a part of the quarter's figures, never a recount (Outcomes.of_protocol;
    README, Clinic outcomes)."""

    class Meta:
        csrf = False  # a GET search form changes nothing

    quarter = SelectField("Quarter of the first dose")
    protocol = SelectField("Protocol", default="")

    def set_quarters(self, quarters: list[Quarter]) -> None:
        """The quarters offered, newest first; the newest is the one shown when none is asked for."""
        self.quarter.choices = options((q.key, q.label) for q in quarters)
        if not self.quarter.raw_data and quarters:
            self.quarter.data = quarters[0].key

    def set_protocols(self, names: dict[str, str]) -> None:
        """Every registered protocol, by name, after "All protocols"."""
        self.protocol.choices = options([("", "All protocols"), *names.items()])

    @property
    def chosen(self) -> Quarter | None:
        return Quarter.parse(self.quarter.data or "")

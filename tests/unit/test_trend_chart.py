"""The measures' trend chart (notes/charts.py): a y axis labelled with round values, band lines
named where no point can sit, and every date label inside the drawing (issue 21, point 4)."""
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from ketamine_integration.domain.measures import GAD7, PCL5, PHQ9, WAISR, WSAS
from ketamine_integration.notes.charts import NARROW, WIDE, band_lines, tick_values, trend_chart


@pytest.mark.parametrize("low, high, expected", [
    (0, 27, [0, 5, 10, 15, 20, 25]),       # PHQ-9: every 5, the top (27) unlabelled
    (0, 21, [0, 5, 10, 15, 20]),           # GAD-7
    (0, 20, [0, 5, 10, 15, 20]),           # a 0-20 entry: both ends labelled
    (0, 10, [0, 2, 4, 6, 8, 10]),          # a short scale: every 2
    (3, 9, [3, 4, 5, 6, 7, 8, 9]),         # not from 0: every value
    (5, 60, [10, 20, 30, 40, 50, 60]),     # the first round value above the low end
])
def test_tick_values_are_round_and_few(low, high, expected):
    assert tick_values(low, high) == expected


def rows(*totals):
    start = date(2026, 11, 3)
    return [(SimpleNamespace(administered_on=start + timedelta(weeks=i), total=t), None)
            for i, t in enumerate(totals)]


@pytest.mark.parametrize("measure", [PHQ9, GAD7])
def test_the_chart_labels_its_axis_and_bands_and_keeps_every_label_inside(measure):
    chart = trend_chart(measure, rows(18, 12, 7, measure.max_total))
    # the y axis: a tick per round value, from the bottom of the plot up
    assert [t.value for t in chart["ticks"]] == tick_values(measure.min_total, measure.max_total)
    assert chart["ticks"][0].y == chart["bottom"] and all(chart["top"] <= t.y for t in chart["ticks"])
    # band lines: one per band after the first, named in the right margin (about 7 px a letter at 12 px), right of every point
    assert [b.label for b in chart["bands"]] == [b.label for b in measure.bands[1:]]
    assert max(p.x for p in chart["points"]) <= chart["right"]
    assert chart["width"] - chart["right"] >= 7 * len(max((b.label for b in chart["bands"]), key=len))
    # the last date, centred on its point at the axis end, fits ("Dec 01" is about 40 px at 12 px)
    assert chart["points"][-1].x + 20 <= chart["width"]
    # room under the dates for the axis title
    assert chart["height"] - chart["bottom"] >= 40


@pytest.mark.parametrize("measure", [PHQ9, GAD7])
def test_the_phones_chart_keeps_12_px_text_apart_inside_its_340_px(measure):
    """Drawn at its natural size on a phone (issue 21): band names wrapped into its narrow right
    margin without running into the next band's, written dates never closer than a date's width."""
    weekly = rows(*[measure.max_total - 2 * i for i in range(8)])
    chart = trend_chart(measure, weekly, NARROW)
    assert chart["width"] == 340
    for band in chart["bands"]:
        assert "".join(band.lines).replace(" ", "") == band.label.replace(" ", "")
        assert chart["width"] - chart["right"] - 6 >= 7 * max(len(line) for line in band.lines), band
    # bands go up the chart: each name's last line sits above the band below it
    for higher, lower in zip(chart["bands"][1:], chart["bands"]):
        assert higher.y + (len(higher.lines) - 1) * chart["line_height"] + 4 < lower.y, (higher, lower)
    written = [p.x for p in chart["points"] if p.labelled]
    assert chart["points"][-1].labelled and len(written) < len(chart["points"])
    assert all(b - a >= 44 for a, b in zip(written, written[1:]))
    assert written[0] - 20 >= 0 and written[-1] + 20 <= chart["width"]


@pytest.mark.parametrize("label, letters, expected", [
    ("Moderately severe", 10, ("Moderately", "severe")),   # two words, each a line
    ("Mild", 10, ("Mild",)),                               # short: one line
    ("None–minimal", 10, ("None–minimal",)),              # one long word stays whole
    ("Moderately severe", 0, ("Moderately severe",)),     # 0: the wide chart's single line
])
def test_band_names_wrap_at_whole_words(label, letters, expected):
    assert band_lines(label, letters) == expected


@pytest.mark.parametrize("measure", [PCL5, WSAS, PHQ9])
@pytest.mark.parametrize("layout", [WIDE, NARROW])
def test_band_names_fit_the_margin_and_never_overlap_even_where_bands_begin_close(measure, layout):
    """PCL-5's bands begin at 31 and 34, 3 points apart on its 0-80 axis (7 px on the wide chart): the
    upper name is written a line clear above the lower one; every name fits its margin (about 7 px a letter)."""
    chart = trend_chart(measure, rows(measure.max_total, 0), layout)
    assert [b.label for b in chart["bands"]] == [b.label for b in measure.bands[1:]]
    for band in chart["bands"]:
        assert chart["width"] - chart["right"] - 6 >= 7 * max(len(line) for line in band.lines), band
        assert band.text_y <= band.y + 4                         # under its line, or above it, never lower
    for lower, higher in zip(chart["bands"], chart["bands"][1:]):
        last_line = higher.text_y + (len(higher.lines) - 1) * chart["line_height"]
        assert last_line + chart["line_height"] <= lower.text_y, (lower, higher)


def test_an_alliance_chart_has_no_bands_and_draws_a_rising_total_higher():
    """WAI-SR: 12-60, no published bands, higher is better: a stronger alliance sits higher on the chart
    and the chart says which way is better (nothing calls a rise worse)."""
    chart = trend_chart(WAISR, rows(30, 48))
    assert chart["bands"] == [] and (chart["min"], chart["max"]) == (12, 60)
    assert chart["better"] == "Higher totals are better" and trend_chart(PHQ9, rows(9))["better"] == \
        "Lower totals are better"
    first, second = chart["points"]
    assert second.y < first.y                                    # 48 drawn above 30


def test_the_phones_pcl5_chart_writes_the_short_band_names_next_to_their_lines():
    """At 375 px the PCL-5's three close bands wrapped to seven lines, the upper name pushed far above its
    line (new user's finding): the phone writes the registry's short names, each within two lines of its
    own band line; the wide chart and the PDF keep the whole names."""
    narrow, wide = trend_chart(PCL5, rows(80, 0), NARROW), trend_chart(PCL5, rows(80, 0), WIDE)
    assert [b.lines for b in narrow["bands"]] == [("Cut-off", "range"), ("Above", "cut-off")]
    assert [" ".join(b.lines) for b in wide["bands"]] == [b.label for b in PCL5.bands[1:]]
    for band in narrow["bands"]:
        assert band.y - 2 * narrow["line_height"] - 4 <= band.text_y <= band.y + 4, band
        assert band.text_y >= narrow["top"]                         # never above the plot

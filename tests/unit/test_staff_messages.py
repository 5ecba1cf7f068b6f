"""Staff notifications' rules (issue 22, point 6): when a daily summary is due, across both changes of
clock in New York, and what an alert's email and a summary may say."""
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from ketamine_integration.domain.reminders import ClinicalWordInMessage, clinical_words_in
from ketamine_integration.domain.staff_messages import (DigestLine, alert_message, digest_due, digest_message,
                                                        digest_moment, parse_clock)

NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("day, at, moment", [
    (date(2026, 7, 1), time(7, 30), utc(2026, 7, 1, 11, 30)),     # summer: EDT, UTC-4
    (date(2026, 12, 1), time(7, 30), utc(2026, 12, 1, 12, 30)),   # winter: EST, UTC-5
    (date(2026, 3, 8), time(7, 30), utc(2026, 3, 8, 11, 30)),     # spring-forward day, after the change: EDT
    (date(2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30)),      # 02:30 never happens: when clocks show 03:30
    (date(2026, 3, 8), time(1, 30), utc(2026, 3, 8, 6, 30)),      # spring-forward day, before the change: EST
    (date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),    # 01:30 happens twice: the first (EDT)
    (date(2026, 11, 1), time(7, 30), utc(2026, 11, 1, 12, 30)),   # fall-back day, after the change: EST
    (date(2026, 12, 1), time(0, 0), utc(2026, 12, 1, 5, 0)),      # midnight: the day's start
])
def test_a_summary_moment_is_when_the_clinic_clocks_first_show_its_time(day, at, moment):
    assert digest_moment(day, at, NY) == moment


@pytest.mark.parametrize("now, at, last_day, due", [
    (utc(2026, 12, 1, 12, 29), time(7, 30), None, None),                       # a minute early
    (utc(2026, 12, 1, 12, 30), time(7, 30), None, date(2026, 12, 1)),          # on the minute
    (utc(2026, 12, 1, 20, 0), time(7, 30), None, date(2026, 12, 1)),           # later the same day (worker was down)
    (utc(2026, 12, 1, 20, 0), time(7, 30), date(2026, 12, 1), None),           # today's already looked at
    (utc(2026, 12, 2, 12, 30), time(7, 30), date(2026, 12, 1), date(2026, 12, 2)),  # the next day
    (utc(2026, 12, 2, 4, 0), time(7, 30), date(2026, 11, 30), date(2026, 12, 1)),  # 23:00 on the 1st: the 1st's, late
    (utc(2026, 12, 2, 4, 0), time(22, 0), date(2026, 11, 30), date(2026, 12, 1)),  # UTC's date is not the clinic's
    (utc(2026, 12, 1, 12, 30), None, None, None),                              # off
    (utc(2026, 3, 8, 7, 29), time(2, 30), None, None),                         # spring forward: 03:29 EDT, not yet
    (utc(2026, 3, 8, 7, 30), time(2, 30), None, date(2026, 3, 8)),             # spring forward: 03:30 EDT
    (utc(2026, 11, 1, 5, 30), time(1, 30), None, date(2026, 11, 1)),           # fall back: the first 01:30
    (utc(2026, 11, 1, 6, 30), time(1, 30), date(2026, 11, 1), None),           # the second 01:30: not again
])
def test_a_summary_is_due_once_a_clinic_day_once_its_time_has_come(now, at, last_day, due):
    assert digest_due(now, at, NY, last_day) == due


@pytest.mark.parametrize("text, clock", [("07:30", time(7, 30)), ("7:05", time(7, 5)), (" 23:59 ", time(23, 59)),
                                         ("00:00", time(0, 0))])
def test_clock_times_are_read(text, clock):
    assert parse_clock(text) == clock


@pytest.mark.parametrize("text", ["", "24:00", "7.30", "07:60", "7:5", "07:30 pm", "0730", "٠٧:٣٠"])
def test_other_clock_times_are_refused_saying_how_to_write_one(text):
    with pytest.raises(ValueError, match="24-hour clock time, e.g. 07:30"):
        parse_clock(text)


def test_an_alert_email_names_the_record_number_and_the_link_and_nothing_clinical():
    message = alert_message(record_number="DEMO-0008", link="https://ki.clinic.example/courses/3/measures")
    assert message.subject == "Urgent: a safety alert is waiting for patient DEMO-0008"
    assert message.body.startswith("An urgent safety alert is waiting in the app for patient DEMO-0008.\n")
    assert "https://ki.clinic.example/courses/3/measures" in message.body
    assert clinical_words_in(message.subject + message.body) == []


def test_an_alert_email_is_sent_whatever_the_app_address_or_record_number_hold():
    # the clinic's own host and identifiers are not message content: a safety email is never stopped by them
    message = alert_message(record_number="KAP-0001", link="https://mentalhealth.example/courses/3/measures")
    assert "KAP-0001" in message.subject


LINES = [DigestLine(2, "sessions to confirm", "https://ki.example/home#unconfirmed"),
         DigestLine(0, "notes to sign", "https://ki.example/home#drafts"),
         DigestLine(1, "window closing with nothing booked", "https://ki.example/worklist")]


def test_a_summary_lists_the_counts_above_zero_with_their_links():
    message = digest_message(day=date(2026, 12, 4), lines=LINES, settings_link="https://ki.example/account/notifications")
    assert message.subject == "Your daily summary for Fri 04 Dec"
    assert "- 2 sessions to confirm: https://ki.example/home#unconfirmed" in message.body
    assert "- 1 window closing with nothing booked: https://ki.example/worklist" in message.body
    assert "notes to sign" not in message.body and clinical_words_in(message.body) == []


def test_nothing_to_report_makes_no_summary():
    assert digest_message(day=date(2026, 12, 4), lines=[DigestLine(0, "notes to sign", "x")], settings_link="y") is None


def test_a_summary_refuses_a_clinical_word():
    with pytest.raises(ClinicalWordInMessage):
        digest_message(day=date(2026, 12, 4), lines=[DigestLine(1, "doses to record", "x")], settings_link="y")

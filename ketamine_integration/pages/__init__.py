"""Pages that compose several features: above every feature they show (README, Architecture).

Their views keep the endpoint names of the blueprints they were born on (templates and tests
use them): `register` adds them to the app under those names, at the same URLs.
"""
from __future__ import annotations

from flask import Flask

from . import calendar_booking, course, course_forms, course_practices, patient, protocols


def register(app: Flask) -> None:
    for endpoint, rule, view, methods in (course.ROUTES + course_practices.ROUTES + patient.ROUTES + protocols.ROUTES
                                          + calendar_booking.ROUTES + course_forms.ROUTES):
        app.add_url_rule(rule, endpoint=endpoint, view_func=view, methods=methods)

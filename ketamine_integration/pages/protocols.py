"""The protocols page: every file and registered version, its status and how many courses use it."""
from __future__ import annotations

from flask import render_template

from ..courses.services import count_courses_by_version
from ..protocols.services import library_overview
from ..web import access


@access.permission("protocols.read")
def protocol_list():
    rows, invalid = library_overview(count_courses_by_version())
    return render_template("protocols/list.html", rows=rows, invalid=invalid)


#: (endpoint, URL, view, methods), as in pages/course.py
ROUTES = (
    ("protocols.protocol_list", "/protocols/", protocol_list, ["GET"]),
)

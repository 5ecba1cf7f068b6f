"""The protocols page: every file and registered version, its status and how many courses use it;
the technique vocabulary page: its clusters and techniques, which file holds each, and broken files."""
from __future__ import annotations

from flask import render_template

from ..courses.services import count_courses_by_version
from ..protocols.services import library_overview
from ..protocols.techniques import current_library
from ..web import access


@access.permission("protocols.read")
def protocol_list():
    rows, invalid = library_overview(count_courses_by_version())
    return render_template("protocols/list.html", rows=rows, invalid=invalid)


@access.permission("protocols.read")
def technique_list():
    """Read by everyone who reads the protocol library: the words notes choose techniques by."""
    return render_template("protocols/techniques.html", library=current_library())


#: (endpoint, URL, view, methods), as in pages/course.py
ROUTES = (
    ("protocols.protocol_list", "/protocols/", protocol_list, ["GET"]),
    ("protocols.technique_list", "/protocols/techniques", technique_list, ["GET"]),
)

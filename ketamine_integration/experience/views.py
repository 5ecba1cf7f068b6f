"""Dosing session pages: plan the series, record and sign a session, REMS forms."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("experience", __name__)

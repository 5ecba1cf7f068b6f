"""The second sign-in step as accounts sees it: asked of the mfa package, which create_app passes in.

Two-step sign-in (mfa/) sits above accounts: it reads users and ends their sessions. Sign-in
and the user list still need its answers, so create_app registers them here (`use`) rather
than accounts importing mfa.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask, current_app

from .models import User


@dataclass(frozen=True)
class SecondStep:
    #: what a right password opens for `user`: signed in, or a code or an enrolment due (sessions.py stages)
    stage_for: Callable[[User], str]
    #: the ids of users with a confirmed authenticator (the user list shows them)
    enrolled_user_ids: Callable[[], set[int]]


def use(app: Flask, step: SecondStep) -> None:
    app.extensions["second_step"] = step


def current() -> SecondStep:
    """This app's second step; an app made without one fails loudly rather than skip it."""
    return current_app.extensions["second_step"]

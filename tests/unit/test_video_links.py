"""Telehealth video addresses (domain/video_links.py): what the clinic may set, and the link a session gets."""
import pytest

from ketamine_integration.domain.video_links import (
    MAX_LENGTH, BadVideoAddress, check_room_url, check_template, clinician_slug, video_link)

TOKEN = "q3Vb7xKp0tRmZ2aLcW9yNe"


@pytest.mark.parametrize("template", [
    "https://video.example.org/{appointment}",                     # a room per session
    "https://video.example.org/{clinician}",                       # a room per clinician
    "https://video.example.org/c/{clinician}/s/{appointment}",     # both
    "https://video.example.org/join?room={appointment}&x=1",       # in the query
    "  https://video.example.org/{appointment}  ",                 # spaces around are trimmed
])
def test_a_template_the_clinic_may_use(template):
    assert check_template(template) == template.strip()


@pytest.mark.parametrize("template, says", [
    ("http://video.example.org/{appointment}", "https://"),                 # not encrypted
    ("ftp://video.example.org/{appointment}", "https://"),                  # not the web
    ("javascript:alert(1)//{appointment}", "https://"),                     # a script, not an address
    ("https://video.example.org/{room}", "Unknown placeholder {room}"),     # not in the set
    ("https://video.example.org/{id}", "Unknown placeholder {id}"),         # the database id is not offered
    ("https://video.example.org/{0}", "is not a placeholder"),              # positional
    ("https://video.example.org/{}", "is not a placeholder"),               # empty
    ("https://video.example.org/{appointment!r}", "is not a placeholder"),  # a conversion
    ("https://video.example.org/{appointment:>30}", "is not a placeholder"),  # a format spec
    ("https://video.example.org/{appointment", "no matching"),              # unbalanced
    ("https://video.example.org/room", "Add {appointment}"),                # every session in one room
    ("https://video.example.org/" + "a" * MAX_LENGTH + "{appointment}", f"At most {MAX_LENGTH}"),  # too long
    ("https:///{appointment}", "whole address"),                            # no host
    ("https://localhost/{appointment}", "whole address"),                   # not a service's host
    ("https://user:pw@video.example.org/{appointment}", "user name and password"),  # credentials inside
    ("https://video.example.org/a b/{appointment}", "no spaces"),           # a space inside
    ("https://video.example.org/ketamine/{appointment}", "without “ketamine”"),  # the treatment in the path
    ("https://mentalhealth.example.org/{appointment}", "without “mentalhealth”"),  # in the host, run together
])
def test_a_template_refused_says_why(template, says):
    with pytest.raises(BadVideoAddress) as refused:
        check_template(template)
    assert says in str(refused.value)


@pytest.mark.parametrize("url, says", [
    ("http://video.example.org/me", "https://"),                            # not encrypted
    ("https://video.example.org/{appointment}", "used as it is"),           # placeholders are the template's
    ("https://video.example.org/" + "a" * MAX_LENGTH, f"At most {MAX_LENGTH}"),  # too long
    ("video.example.org/me", "https://"),                                   # no scheme
    ("https://zoom.example.org/j/ketaminetherapy", "without “ketaminetherapy”"),  # run-together words
    ("https://video.example.org/rooms/k-e-t-a-m-i-n-e", "without “k-e-t-a-m-i-n-e”"),  # spelled apart
    ("https://video.example.org/dr-ames-psychiatry", "without “psychiatry”"),
    ("https://zoom.example.org/j/%6Betamine", "without “ketamine”"),      # percent-encoded, shown decoded
    ("https://video.example.org/th%65rapy-room", "without “therapy”"),
])
def test_a_personal_room_refused_says_why(url, says):
    with pytest.raises(BadVideoAddress) as refused:
        check_room_url(url)
    assert says in str(refused.value)


def test_a_personal_room_is_kept_trimmed():
    assert check_room_url(" https://video.example.org/rooms/hq ") == "https://video.example.org/rooms/hq"


@pytest.mark.parametrize("kwargs, link", [
    # in person: never a link, whatever is set
    (dict(telehealth=False, token=TOKEN, room_url="https://v.example.org/me", template="https://v.example.org/{appointment}"),
     None),
    # the clinician's own room comes first
    (dict(telehealth=True, token=TOKEN, room_url="https://v.example.org/me", template="https://v.example.org/{appointment}"),
     "https://v.example.org/me"),
    # else the template, with the session's code
    (dict(telehealth=True, token=TOKEN, room_url=None, template="https://v.example.org/{appointment}"),
     f"https://v.example.org/{TOKEN}"),
    # the clinician's slug
    (dict(telehealth=True, token=TOKEN, room_url=None, template="https://v.example.org/{clinician}"),
     "https://v.example.org/hazel-quint-7"),
    # neither set: no link
    (dict(telehealth=True, token=TOKEN, room_url=None, template=None), None),
    # a session from before codes, with only a template: no link rather than a shared one
    (dict(telehealth=True, token=None, room_url=None, template="https://v.example.org/{appointment}"), None),
])
def test_the_link_a_session_gets(kwargs, link):
    assert video_link(clinician_slug=clinician_slug("Hazel Quint", 7), **kwargs) == link


@pytest.mark.parametrize("name, user_id, slug", [
    ("Hazel Quint", 7, "hazel-quint-7"),                 # words and the number
    ("Zoë O'Brien-Hale", 12, "zo-o-brien-hale-12"),      # letters outside a-z split words
    ("A B C D E F", 3, "a-b-c-d-3"),                     # four words at most
    ("", 5, "5"),                                        # no name: the number alone
])
def test_the_clinician_placeholder(name, user_id, slug):
    assert clinician_slug(name, user_id) == slug

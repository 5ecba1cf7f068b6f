"""Small pure rules: redirect targets and the password policy (domain errors: test_domain_errors.py)."""
import pytest

from ketamine_integration.accounts.passwords import password_problem
from ketamine_integration.web.forms import safe_next


@pytest.mark.parametrize("target, expected", [
    ("/patients/12", "/patients/12"),                  # same-site path: followed
    ("/patients/?q=a", "/patients/?q=a"),              # with a query
    (None, "/"),                                       # nothing asked
    ("", "/"),
    ("https://evil.example/", "/"),                    # another site
    ("//evil.example/x", "/"),                         # scheme-relative: another site
    ("javascript:alert(1)", "/"),                      # a script URL
    ("patients", "/"),                                 # relative without a slash
])
def test_safe_next(target, expected):
    assert safe_next(target, "/") == expected


@pytest.mark.parametrize("password, username, problem", [
    ("correct horse battery staple", "desk", None),    # a passphrase
    ("Tr0ub4dor&3xy", "desk", None),                    # 13 characters, mixed
    ("elevenchars", "desk", "at least 12"),             # one short
    ("x" * 257, "desk", "at most 256"),
    ("my-desk-password-1", "desk", "must not contain the username"),
    ("abababababababab", "desk", "repeats too few"),
    ("password1234", "desk", "common or easy to guess"),      # in the breach corpus as it stands
    ("Password1234", "desk", "common or easy to guess"),      # case does not help
    ("iloveyou1234", "desk", "common or easy to guess"),      # built from common parts
    ("qwertyuiop123", "desk", "common or easy to guess"),     # a keyboard walk
    ("a fine long passphrase", "desk", None),                 # an ordinary passphrase is fine
    # zxcvbn 4.5 refuses to judge more than 72 characters: longer ones are judged by their start
    ("quiet ferry at dawn across the harbor; lanterns on the old sea wall while gulls argue overhead",
     "desk", None),                                                                      # 95 characters
    ("password" * 9 + "x" * 180, "desk", "common or easy to guess"),                     # 252: the start decides
])
def test_password_policy(password, username, problem):
    found = password_problem(password, username)
    assert (found is None) if problem is None else (problem in found)

"""The crisis page's content (domain/crisis.py): 988 and 911 always, the clinic's phone when it has
set one, each with the link a phone dials or texts."""
import pytest

from ketamine_integration.domain.crisis import crisis_resources, dialable


@pytest.mark.parametrize("written, dialled", [
    ("(555) 010-0199", "5550100199"),      # the usual US way of writing it
    ("+1 555.010.0199", "+15550100199"),   # an international prefix is kept
    ("555 0100 +2", "55501002"),           # a plus inside the number is no prefix
    ("", ""),                              # none set
    ("...", ""),                           # the setting's characters, yet no digit: nothing to dial
])
def test_a_written_number_becomes_a_dialable_one(written, dialled):
    assert dialable(written) == dialled


@pytest.mark.parametrize("phone, links", [
    # the clinic's phone set: after 988 (call or text) and 911
    ("(555) 010-0199", ["tel:988", "sms:988", "tel:911", "tel:5550100199"]),
    # none set, or nothing dialable: the national resources alone
    ("", ["tel:988", "sms:988", "tel:911"]),
    (None, ["tel:988", "sms:988", "tel:911"]),
    ("...", ["tel:988", "sms:988", "tel:911"]),
])
def test_the_contacts_and_their_links(phone, links):
    page = crisis_resources("Harbor Light Clinic", phone)
    assert [href for contact in page.contacts for _, href in contact.links] == links
    assert page.contacts[0].name == "988 Suicide & Crisis Lifeline" and "call 911" in page.contacts[1].how
    if len(links) == 4:
        assert page.contacts[2].name == "Harbor Light Clinic" and "(555) 010-0199" in page.contacts[2].how

"""The staff patient page's cards at a desktop's, a tablet's and a phone's width (issue 23, the
portal's staff side): the portal card is not squeezed into a column where its email address and the
sender's name break in the middle of a word, and no card's content (the Reminders card's consent
badges) sticks out past its edge."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from ketamine_integration.accounts.models import User
from ketamine_integration.db.types import utcnow
from ketamine_integration.extensions import db
from ketamine_integration.patients.models import Patient
from ketamine_integration.portal.invitations import invite
from ketamine_integration.reminders.consent import record_consent
from tests.browser.conftest import sign_in
from tests.browser.layout import page_width

#: where a line break falls between two characters of a fact that are not a space, the character
#: before it: a break after an email address's "@" (its <wbr>) is allowed, any other is mid-word
MID_WORD_BREAKS = """cards => cards.flatMap(card => [...card.querySelectorAll('dd')].flatMap(dd => {
  const chars = [];
  const walker = document.createTreeWalker(dd, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const range = document.createRange();
      range.setStart(node, i); range.setEnd(node, i + 1);
      const rect = range.getClientRects()[0];
      if (rect && node.data[i].trim()) chars.push([node.data[i], rect.top]);
      else chars.push([' ', rect ? rect.top : null]);
    }
  }
  const found = [];
  for (let i = 1; i < chars.length; i++) {
    const [before, top0] = chars[i - 1], [after, top1] = chars[i];
    if (top0 !== null && top1 !== null && top1 > top0 + 2 && before !== ' ' && after !== ' ' && before !== '@')
      found.push(dd.textContent.trim());
  }
  return found;
}))"""

#: each card's content that reaches past the card's right edge: (card heading, element, how far)
OVERFLOWING = """cards => cards.flatMap(card => {
  const edge = card.getBoundingClientRect().right;
  return [...card.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > edge + 0.5)
    .map(e => [card.querySelector('h2').textContent, e.outerHTML.slice(0, 80), e.getBoundingClientRect().right - edge]);
})"""


def _invited_patient_with_consents(make) -> int:
    """Moss Mossbank (fictional): an email address and a phone, consent to both channels recorded
    (the Reminders card's badges and their words), and a portal invitation Sam Driftwood sent."""
    staff = make.user("staff", username="driftwood", full_name="Sam Driftwood")
    patient_id = make.patient(given_name="Moss", family_name="Mossbank", email="moss.mossbank@example.org",
                              phone="(555) 0112")

    def consent_and_invite():
        patient, by = db.session.get(Patient, patient_id), db.session.get(User, staff)
        record_consent(patient, channel="email", granted=True, method="written_form", by=by)
        record_consent(patient, channel="sms", granted=True, method="phone", by=by)
        invite(patient, by=by, now=utcnow())
    make.run(consent_and_invite)
    return patient_id


@pytest.mark.parametrize("width", [1280, 900, 375])
def test_the_patient_pages_cards_give_their_facts_room(live_server, page: Page, width):
    patient_id = _invited_patient_with_consents(live_server.make)
    sign_in(page, "driftwood")
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"/patients/{patient_id}")
    portal = page.get_by_role("region", name="Patient portal")
    expect(portal.locator("dt:text-is('Sent to') + dd")).to_have_text("moss.mossbank@example.org")
    expect(page.get_by_role("region", name="Reminders")).to_contain_text("Consents")
    cards = page.locator(".patient-cards > .card")
    assert cards.evaluate_all(MID_WORD_BREAKS) == []
    assert cards.evaluate_all(OVERFLOWING) == []
    assert page_width(page) <= width
    if width == 1280:  # the portal card takes two of the three columns: its facts sit beside their names
        card, row = portal.bounding_box(), page.get_by_role("region", name="Demographics").bounding_box()
        assert card["width"] > 1.9 * row["width"]

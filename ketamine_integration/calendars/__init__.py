"""Calendars: subscription feeds, invitations and busy time imported from other calendars."""

"""The care team every edge-case test starts from (the same as tests/integration/test_notes.py)."""
import pytest

from tests.integration.test_notes import notes_team


@pytest.fixture
def team(make):
    return notes_team(make)

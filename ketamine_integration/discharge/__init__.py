"""The discharge summary written when a course ends (issue 24, point 6)."""

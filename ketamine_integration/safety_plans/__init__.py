"""A patient's safety / crisis plan: revisions signed like notes, addenda and signed reviews (issue 24, point 4)."""

"""Therapist session documentation: notes, themes, action steps, case formulation, measures."""

"""Telehealth: the video link of a telehealth session, its settings, and where links may go."""

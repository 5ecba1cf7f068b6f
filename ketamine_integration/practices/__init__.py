"""Self-guided practices: the clinic's vocabulary, assignments to a course, the patient's logs, adherence."""

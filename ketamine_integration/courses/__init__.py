"""Treatment courses: enrolment in a protocol, phases and their gates, the preparation checklist."""

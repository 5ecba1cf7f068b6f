"""Treatment plans per course (issue 24, point 1): signed revisions, SMART objectives, the decision-map stage."""

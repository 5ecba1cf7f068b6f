"""HTTP plumbing every blueprint shares: access rules, the request lifecycle, form fields,
form submission and pagination helpers, and the logs' redaction. Knows no feature."""

"""Database plumbing every feature shares: column types, the clinic clock, row locks and
versioning, the append-only declaration and guards, signed-record helpers, domain errors.
Knows no feature."""

"""Backups with manifests, verified restores (HIPAA 164.308(a)(7) contingency plan)."""

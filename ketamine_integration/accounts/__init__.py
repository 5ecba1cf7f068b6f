"""Accounts: users, roles, passwords, and server-side login sessions."""

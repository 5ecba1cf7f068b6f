"""Clinic-wide settings the admin changes in the app, whichever feature reads them."""

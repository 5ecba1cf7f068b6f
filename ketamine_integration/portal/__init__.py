"""The patient portal: patients' accounts, invitations, sign-in and sessions, its layout and home page."""

"""Two-step sign-in: authenticator (TOTP) enrolment and codes, recovery codes, the clinic's MFA policy."""

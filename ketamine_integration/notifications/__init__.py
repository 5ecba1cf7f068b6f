"""Staff notifications (issue 22, point 6): urgent safety alerts emailed at once, each user's daily
summary, the clinic's on-call address and each user's own notification settings."""

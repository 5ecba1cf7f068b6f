"""Messages the clinic sends (email through the mailer, texts through an SMS provider), the background job queue that sends them, and the history the patient page shows."""

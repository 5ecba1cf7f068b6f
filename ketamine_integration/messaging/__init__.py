"""Messages the clinic sends (email now; SMS through a provider later) and the background job queue that sends them."""

"""gunicorn's settings for this app, read from the project folder (gunicorn loads
./gunicorn.conf.py by default; `--config gunicorn.conf.py` names it explicitly).

The logger masks calendar-feed secrets and drops query strings (patient searches) from the
access and error logs (SECURITY.md, "Server logs"). Turn the access log on with
`--access-logfile -` (or a path); it is off unless asked for, as in gunicorn itself.
"""
logger_class = "ketamine_integration.web.access_log.RedactingGunicornLogger"

"""gunicorn's settings for this app, read from the project folder (gunicorn loads
./gunicorn.conf.py by default; `--config gunicorn.conf.py` names it explicitly).

The logger masks calendar-feed secrets and drops query strings (patient searches) from the
access and error logs (SECURITY.md, "Server logs"). Turn the access log on with
`--access-logfile -` (or a path); it is off unless asked for, as in gunicorn itself.

The app is built once, in the master, before the workers are forked (`preload_app`): a worker
starts, or is started again after a crash or a `--max-requests` recycle, in milliseconds instead
of importing the app anew (about 1.5 s of CPU each), and the workers share the master's loaded
code. New code therefore needs a restart of the service (or gunicorn's USR2 upgrade), not a HUP.
Building the app opens no database connection; post_fork drops any pooled one all the same, so
no worker ever uses a connection another process holds.
"""
logger_class = "ketamine_integration.web.access_log.RedactingGunicornLogger"
preload_app = True


def post_fork(server, worker):
    """In each new worker: the app's engines forget the connections they inherited from the master
    (without closing them, which would close the master's), so each worker opens its own."""
    from ketamine_integration.extensions import db

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)

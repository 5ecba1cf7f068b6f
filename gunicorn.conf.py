"""gunicorn's settings for this app, read from the project folder (gunicorn loads
./gunicorn.conf.py by default; `--config gunicorn.conf.py` names it explicitly).

The logger masks calendar-feed secrets and drops query strings (patient searches) from the
access and error logs (SECURITY.md, "Server logs"). Turn the access log on with
`--access-logfile -` (or a path); it is off unless asked for, as in gunicorn itself.

The app is built once, in the master, before the workers are forked (`preload_app`): a worker
starts, or is started again after a crash or a `--max-requests` recycle, in milliseconds instead
of importing the app anew (about 1.5 s of CPU each), and the workers share the master's loaded
code. New code therefore needs a restart of the service (or gunicorn's USR2 upgrade): a HUP
restarts the workers on the code already loaded, and `--reload` does not work with preloading.
"""
import logging

logger_class = "ketamine_integration.web.access_log.RedactingGunicornLogger"
preload_app = True


def post_fork(server, worker):
    """In each new worker forked from the master's app, what building its own app would have done:

    - the engines forget the pooled connections inherited from the master, without closing them
      (the master's), so the worker opens its own; building the app opens none, but nothing may
      ever share one across processes;
    - the log redaction covers the handlers as they are now: a HUP re-reads gunicorn's logging
      configuration (`logconfig`, `logconfig_dict`) in the master, which replaces the root logger's
      handlers the app filtered when it was built;
    - the app's loggers are on: such a configuration with `disable_existing_loggers` turns off every
      logger that exists by then, and with preloading the app's exist in the master."""
    if not server.cfg.preload_app:
        return  # each worker builds its own app, which does all of this itself
    from ketamine_integration.extensions import db
    from ketamine_integration.web import access_log

    app = server.app.wsgi()
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
    access_log.register(app)
    for name, found in logging.root.manager.loggerDict.items():
        if isinstance(found, logging.Logger) and (name == "werkzeug" or name.split(".")[0] == app.logger.name):
            found.disabled = False

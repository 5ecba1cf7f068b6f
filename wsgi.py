"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""
from werkzeug.middleware.proxy_fix import ProxyFix

from ketamine_integration import create_app

app = create_app()

# Behind a reverse proxy (production), trust exactly this many X-Forwarded-* hops so audit
# rows record the client's address, not the proxy's.
_hops = app.config["TRUSTED_PROXY_HOPS"]
if _hops:
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=_hops, x_proto=_hops, x_host=_hops)

"""WSGI entry point: `flask --app wsgi ...` and `gunicorn wsgi:app`."""
from ketamine_integration import create_app

app = create_app()

"""The web entry point: `gunicorn wsgi:app`, `flask --app wsgi ...` (settings: .env, the environment)."""
from dashboard import entry

app = entry.app()

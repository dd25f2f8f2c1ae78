"""gunicorn settings for the API and the admin (WSGI); see the Procfile and README "Web servers".

Sync workers, one thread each: a worker holds at most one PostgreSQL connection, kept open between
requests (CONN_MAX_AGE), so the database sees at most WEB_CONCURRENCY connections from the web.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "sync"
threads = 1
timeout = 30
graceful_timeout = 20
# Recycle workers now and then so a slow leak in a dependency cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500

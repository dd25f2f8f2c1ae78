"""Production: every secret and host comes from the environment; nothing has a usable default."""

from django.core.exceptions import ImproperlyConfigured

from apps.core.cache import redis_cache, redis_channel_layer

from .base import *  # noqa: F403
from .base import env

DEBUG = False


def _required(name: str) -> str:
    value = env(name, default="")
    if not value:
        raise ImproperlyConfigured(f"Set {name}: production has no default for it.")
    return value

SECRET_KEY = _required("DJANGO_SECRET_KEY")
# base.py derived the JWT key from its development SECRET_KEY; production signs with its own secrets.
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY)}  # noqa: F405
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading is a commitment for the whole domain that the operator makes, not the code.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer's health probe speaks plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^healthz/live$"]
PSP_WEBHOOK_SECRET = _required("PSP_WEBHOOK_SECRET")
# Operators move money and compliance officers see identity documents and AML cases: a stolen password alone
# must not open the back-office (UKGC RTS / LCCP security requirements; ISO 27001 A.9.4.2 secure log-on).
STAFF_2FA_REQUIRED_ROLES = env.list("STAFF_2FA_REQUIRED_ROLES", default=["operator", "compliance"])
if not {"operator", "compliance"} <= set(STAFF_2FA_REQUIRED_ROLES):
    raise ImproperlyConfigured("Production requires two-factor authentication of operator and compliance staff.")

# The embedded defaults (SQLite, eager tasks, per-process cache) are for a laptop; production must name
# its PostgreSQL, Redis and broker, or refuse to start rather than run on them silently.
_database = env.db_url_config(_required("DATABASE_URL"))
if _database["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production runs on PostgreSQL: the ledger's locks and triggers are tested there.")
# The Procfile serves HTTP from an ASGI server (uvicorn) whose requests run on ASGI_THREADS reused threads per
# process (apps.core.asgi.BoundedThreads), each keeping one persistent connection: at most WEB_CONCURRENCY x
# ASGI_THREADS connections from the web (README, "Web servers"). DB_POOL_MAX_SIZE > 0 instead gives each process
# a psycopg pool of that size; Django's pool requires CONN_MAX_AGE = 0.
_pool_size = env.int("DB_POOL_MAX_SIZE", default=0)
if _pool_size > 0:
    _pool = {"min_size": 1, "max_size": _pool_size, "timeout": 10}
    _database = {**_database, "CONN_MAX_AGE": 0, "OPTIONS": {**_database.get("OPTIONS", {}), "pool": _pool}}
else:
    _database = {**_database, "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60), "CONN_HEALTH_CHECKS": True}
DATABASES = {"default": _database}
REDIS_URL = _required("REDIS_URL")
CACHES = {"default": redis_cache(REDIS_URL)}
CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
CELERY_BROKER_URL = _required("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
# No sandbox money in production: an empty default refuses every method until real PSPs are configured.
PAYMENTS_DEPOSIT_METHODS = env.list("PAYMENTS_DEPOSIT_METHODS", default=[])
WHITENOISE_USE_FINDERS = False
WHITENOISE_AUTOREFRESH = False
# Hashed, compressed static files (run `manage.py collectstatic` at build time), served by WhiteNoise.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}  # noqa: F405
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]  # noqa: F405

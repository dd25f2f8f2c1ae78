"""Production: every secret and host comes from the environment; nothing has a usable default."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
PSP_WEBHOOK_SECRET = env("PSP_WEBHOOK_SECRET")
# No sandbox money in production: an empty default refuses every method until real PSPs are configured.
PAYMENTS_DEPOSIT_METHODS = env.list("PAYMENTS_DEPOSIT_METHODS", default=[])

"""Developer machine / `make run`: embedded SQLite and eager Celery unless the environment says otherwise."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# daphne first: its runserver is an ASGI server, so `make run` serves the WebSockets (/ws/) as well as HTTP.
INSTALLED_APPS = ["daphne", *INSTALLED_APPS]  # noqa: F405

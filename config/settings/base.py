"""Settings shared by every environment; everything deployment-specific comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789abcdef")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

# The admin shell (django-unfold) overrides the admin's templates, so its apps come before django.contrib.admin
# (and its simple-history templates before simple_history's).
ADMIN_SHELL_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
]
DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_fsm",
    "simple_history",
    "django_celery_beat",
    "channels",
    "axes",
    # Staff two-factor authentication (TOTP); required per role by STAFF_2FA_REQUIRED_ROLES.
    "django_otp",
    "django_otp.plugins.otp_totp",
]
LOCAL_APPS = [
    "apps.core",
    "apps.players",
    "apps.markets",
    "apps.ledger",
    "apps.payments",
    "apps.kyc",
    "apps.limits",
    "apps.games",
    "apps.aml",
    "apps.reports",
    "apps.backoffice",
]
INSTALLED_APPS = ADMIN_SHELL_APPS + DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed a second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "apps.backoffice.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes requires: it turns a lock-out signalled by the backend into a response.
    "axes.middleware.AxesMiddleware",
]

# An API request without a cookie runs only these (apps.core.asgi._CookielessApiChain): JWT authentication needs no
# session, CSRF, django-otp or messages. A subsequence of MIDDLEWARE, in its order (a test checks it).
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Seconds during which a persistent connection that passed Django's health check is not checked again
# (apps.core.db_health); 0 checks at every request, as Django does.
DB_HEALTH_CHECK_INTERVAL = env.float("DB_HEALTH_CHECK_INTERVAL", default=1.0)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_env() -> dict:
    """PostgreSQL when DATABASE_URL is set; otherwise the embedded SQLite demo database.

    SQLite opens write transactions IMMEDIATE with a busy timeout, so concurrent
    requests queue for the write lock instead of failing with "database is locked".
    """
    if env("DATABASE_URL", default=""):
        db = env.db("DATABASE_URL")
        db.setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
        db["CONN_HEALTH_CHECKS"] = True
        # ...at most once a second per connection (apps.core.db_health).
        return db
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3")),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The service is the transaction boundary (STYLE.md); a request-wide transaction would hide that.
ATOMIC_REQUESTS = False

AUTH_USER_MODEL = "players.User"
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out email is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sessions are for staff only (players use JWTs): after the admin login, the dashboard. unfold's login form posts no
# `next` when the sign-in page was opened directly, and Django's default is /accounts/profile/, which is a 404 here.
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Readable timestamps everywhere in the admin ("1 Dec 2026, 08:50:34"): config/formats/en/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production there is no collectstatic step: WhiteNoise finds files where the apps keep them.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = env.bool("WHITENOISE_AUTOREFRESH", default=True)

# KYC documents live outside any URL-served location; staff reach them only through a permission-checked view.
PRIVATE_MEDIA_ROOT = Path(env("PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "private_media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(PRIVATE_MEDIA_ROOT)}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    from apps.core.cache import redis_cache, redis_channel_layer

    # Degrades to "empty" when Redis is unreachable (logged): throttles allow, logins keep working.
    CACHES = {"default": redis_cache(REDIS_URL)}
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL)}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # The embedded demo: one process (`make run`) serves HTTP and WebSockets, so an in-process layer suffices.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Celery: eager in-process unless a broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
elif CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport, with one publishing client per channel instead of one per message (apps/core/celery_transport.py).
    CELERY_BROKER_TRANSPORT = "apps.core.celery_transport:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# AML's near-real-time evaluations have a queue of their own: under load they pile up by the thousand, and on the
# one default queue a report run or the sweep waited behind all of them (the soak's journal report, 168 s after a
# 150 s load). A worker consuming both queues takes from each in turn. Every worker must consume both
# (`-Q celery,aml`: Procfile, Procfile.dev, `make worker`); one started without `aml` would leave real-time
# evaluation to the 5-minute sweep. Eager tasks ignore routes.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "apps.aml.tasks.evaluate_transactions": {"queue": "aml"},
    "apps.aml.tasks.evaluate_transaction": {"queue": "aml"},
}

REST_FRAMEWORK = {
    # simplejwt's, with the user's player joined into the same query (one query fewer per player request).
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.players.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's negotiation, with a shortcut for Accept absent, */* or application/json (apps/core/negotiation.py).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.negotiation.JsonFirstContentNegotiation",
    "DEFAULT_PARSER_CLASSES": [
        # JSON nested deeper than apps.core.parsers.MAX_JSON_DEPTH is a 400, not a RecursionError.
        "apps.core.parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    # Keyed on apps.core.http.client_ip (TRUSTED_PROXIES), never on a raw X-Forwarded-For header.
    "DEFAULT_THROTTLE_CLASSES": ["apps.core.throttling.AnonRateThrottle", "apps.core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="60/min"),
        "user": env("THROTTLE_USER", default="600/min"),
        "auth": env("THROTTLE_AUTH", default="30/min"),
    },
    "UNAUTHENTICATED_USER": None,
    "COERCE_DECIMAL_TO_STRING": True,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
}

# Reverting from history would skip the services (and their FSM transitions and ledger postings).
SIMPLE_HISTORY_REVERT_DISABLED = True

SPECTACULAR_SETTINGS = {
    "TITLE": "Casino back-office API",
    "DESCRIPTION": "Player, wallet, responsible-gaming, KYC and provider wallet API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Statuses every operation of a kind answers (401, 429, 400 on bodies, 404 on cursors), added once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.core.schema.document_common_statuses",
    ],
    # Several apps have fields called "kind" and "status"; give each choice set its domain name.
    "ENUM_NAME_OVERRIDES": {
        "KycStateEnum": "apps.kyc.models.KycState",
        "KycDocumentKindEnum": "apps.kyc.models.DocumentKind",
        "KycDocumentStatusEnum": "apps.kyc.models.DocumentStatus",
        "TransactionKindEnum": "apps.ledger.models.TransactionKind",
        "LimitKindEnum": "apps.limits.models.LimitKind",
        "LimitPeriodEnum": "apps.limits.models.LimitPeriod",
        "DepositStatusEnum": "apps.payments.models.DepositStatus",
        "WithdrawalStatusEnum": "apps.payments.models.WithdrawalStatus",
        "PlayerStatusEnum": "apps.players.models.PlayerStatus",
        "AmlAlertStatusEnum": "apps.aml.models.AlertStatus",
        "AmlAlertLevelEnum": "apps.aml.models.AlertLevel",
        "AmlRuleKindEnum": "apps.aml.models.RuleKind",
        "ReportRunStatusEnum": "apps.reports.models.RunStatus",
    },
}

# Proxies (CIDRs) whose X-Forwarded-For is believed: only when the socket peer is one of these is the
# forwarded address the client's (apps.core.http.client_ip). Empty: the peer is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Login lock-out: 5 failures in 15 minutes for one email (API.md).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_USERNAME_FORM_FIELD = "email"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The 15 minutes count from the failure that locked the email; retries during the lock-out do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.players.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "apps.core.http.axes_client_ip"
# API.md locks out by email; per-IP abuse is handled by DRF's anonymous throttles instead.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Domain configuration (the operator's, from the environment) ---
# Countries the default licence (apps.markets, `is_default`) does not cover; a country another market
# lists explicitly (GB → ukgc, ES → dgoj) is accepted under that market's rules whatever this says.
BLOCKED_COUNTRIES = env.list("BLOCKED_COUNTRIES", default=["US", "FR", "NL", "AU", "KP", "IR"])
MINIMUM_AGE = 18
SUPPORTED_CURRENCIES = env.list(
    "SUPPORTED_CURRENCIES", default=["EUR", "USD", "GBP", "SEK", "NOK", "DKK", "CAD", "JPY"]
)
PSP_WEBHOOK_SECRET = env("PSP_WEBHOOK_SECRET", default="sandbox-psp-webhook-secret")
# Deposit methods players may use. The sandbox PSP credits cash without taking real money,
# so production must list only real PSP methods (see production.py).
PAYMENTS_DEPOSIT_METHODS = env.list("PAYMENTS_DEPOSIT_METHODS", default=["sandbox", "sandbox_async"])
KYC_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# A quota per player on stored KYC documents (count and bytes), so one account cannot fill the disk.
KYC_MAX_DOCUMENTS = env.int("KYC_MAX_DOCUMENTS", default=20)
KYC_MAX_TOTAL_BYTES = env.int("KYC_MAX_TOTAL_MB", default=50) * 1024 * 1024
# Games: the RTP an operator may set (API.md: 80.00–99.00 unless the jurisdiction allows otherwise), how long a
# provider launch token takes bets, and the key provider HMAC secrets are encrypted under (SECRET_KEY if unset).
GAMES_RTP_RANGE = tuple(env.list("GAMES_RTP_RANGE", default=["80.00", "99.00"]))
GAMES_LAUNCH_TOKEN_HOURS = env.int("GAMES_LAUNCH_TOKEN_HOURS", default=12)
PROVIDER_SECRETS_KEY = env("PROVIDER_SECRETS_KEY", default="")
DATA_UPLOAD_MAX_MEMORY_SIZE = 11 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
# UKGC RTS 12: raising or removing a limit takes effect only after a cooling-off period.
LIMIT_COOLING_OFF = timedelta(hours=env.int("LIMIT_COOLING_OFF_HOURS", default=24))

# --- AML monitoring (apps/aml, README "AML monitoring") ---
# Evaluate each posting as it commits (a Celery task); the sweep alone still finds everything, only later.
# scripts/bench.py turns it off: it measures the ledger, and with no broker the evaluation would run inline.
AML_REALTIME_EVALUATION = env.bool("AML_REALTIME_EVALUATION", default=True)
# A web process sends the postings it committed within this many seconds as one task (apps.aml.apps.PostingBatcher);
# 0 sends one task per posting on its commit. Eager tasks (no broker) never wait. One evaluation pass has a fixed
# cost of ~90 ms on the worker whatever its size (scripts/bench_aml.py): at 0.1 s, three web processes asked for up
# to 30 passes a second and the soak's worker fell behind; at 1 s an alert is still raised within about a second.
AML_REALTIME_BATCH_SECONDS = env.float("AML_REALTIME_BATCH_SECONDS", default=1.0)
# How far behind its watermark the sweep and the event relay re-read (late-committing ids).
AML_SWEEP_OVERLAP_MINUTES = env.int("AML_SWEEP_OVERLAP_MINUTES", default=10)
# Ledger events to Redis Streams for BI/fraud tools; off without a Redis (the embedded demo).
AML_EVENTS_REDIS_URL = env("AML_EVENTS_REDIS_URL", default=REDIS_URL)
AML_EVENTS_PUBLISHER = env(
    "AML_EVENTS_PUBLISHER", default="apps.aml.events.RedisStreamsPublisher" if AML_EVENTS_REDIS_URL else ""
)
AML_EVENTS_PREFIX = env("AML_EVENTS_PREFIX", default="casino:events:")
# Regulatory reports: each market's report set, time zone, regulator ids and gaming tax are Market rows
# (apps.markets, editable in the admin with history); apps.reports reads them through markets.selectors.

# Staff roles that must pass a TOTP second factor before the admin opens (README "Back-office"). Optional in
# the demo and tests (empty); production.py requires it of operators and compliance officers.
STAFF_2FA_REQUIRED_ROLES = env.list("STAFF_2FA_REQUIRED_ROLES", default=[])
OTP_TOTP_ISSUER = "Casino back-office"

# --- The admin shell (django-unfold; README "Back-office") ---
UNFOLD = {
    "SITE_TITLE": "Casino back-office",
    "SITE_HEADER": "Casino back-office",
    "SITE_SUBHEADER": "Players, money and compliance",
    "SITE_SYMBOL": "casino",
    "SITE_URL": "/admin/",  # staff have no other site here; the shell's "Return to site" comes back to the dashboard
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "apps.backoffice.dashboard.dashboard_callback",
    # Grouped by task, each item only for a role that may open it, queue sizes as badges (apps/backoffice/navigation.py).
    "SIDEBAR": {
        "show_search": False,
        "command_search": True,
        "show_all_applications": False,
        "navigation": "apps.backoffice.navigation.sidebar",
    },
    # The command palette (Ctrl/Cmd+K) also finds rows by their admins' search fields, in the admins the viewer may
    # open; only these, since a search over ledger entries or rounds would scan the largest tables on every key.
    "COMMAND": {
        "search_models": ["players.player", "payments.withdrawal", "payments.deposit", "kyc.kyccase", "aml.amlalert", "games.game"],
        "show_history": True,
    },
    "ACCOUNT": {"navigation": [{"title": "Two-factor authentication", "link": "/admin/2fa/setup/"}]},
}

# --- Live updates over WebSockets (apps/backoffice/realtime.py, README "WebSockets") ---
# Push balances and staff events after commit. scripts/bench.py turns it off: it measures the ledger alone.
REALTIME_PUSH = env.bool("REALTIME_PUSH", default=True)
# Wallet pushes of the postings a process commits within this many seconds go out together, from a background
# thread (apps.core.batching): one presence check per batch instead of one per posting in the request. 0: each
# posting's push in the committing thread, as the suite runs.
REALTIME_PUSH_BATCH_SECONDS = env.float("REALTIME_PUSH_BATCH_SECONDS", default=0.05)

# GET /api/v1/wallet answered on the ASGI event loop for a valid player token (apps/payments/fast_wallet.py), with
# this many async PostgreSQL connections per web process besides Django's (README, "Web servers").
WALLET_FAST_PATH = env.bool("WALLET_FAST_PATH", default=True)
WALLET_FAST_PATH_DB_CONNECTIONS = env.int("WALLET_FAST_PATH_DB_CONNECTIONS", default=2)
# A player or staff transaction at or above this (EUR) shows on the dashboard's live feed. EU AMLD4 art. 11(d):
# gambling providers apply customer due diligence from EUR 2,000 per transaction.
STAFF_LARGE_TRANSACTION_EUR = env("STAFF_LARGE_TRANSACTION_EUR", default="2000.00")
# A wallet socket that has not sent its token within this many seconds is closed (4408).
WS_AUTH_TIMEOUT_SECONDS = env.float("WS_AUTH_TIMEOUT_SECONDS", default=10.0)
# Origins (host names, as ALLOWED_HOSTS; "*" for any, e.g. native apps that send no Origin) that may open
# /ws/wallet/: the operator's player front ends. The staff socket accepts only ALLOWED_HOSTS.
WALLET_WS_ALLOWED_ORIGINS = env.list("WALLET_WS_ALLOWED_ORIGINS", default=ALLOWED_HOSTS)

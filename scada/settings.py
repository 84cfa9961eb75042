"""Kiln settings: one module, every value from the environment (see docs/configuration.md).

Production is simply DEBUG=0; there is no second settings file to drift. Helpers fail loudly with
ImproperlyConfigured instead of guessing when a variable is malformed.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from scada.env import (  # the parsing helpers live apart from the values they parse
    SECRET_MIN_LENGTH,
    dev_secret,
    envbool,
    envint,
    envlist,
    envsecret,
    envstr,
    weak_secret_reason,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"

DEBUG = envbool("DEBUG", False)
TESTING = "pytest" in sys.modules or envbool("KILN_TESTING", False)


SECRET_KEY = envsecret("SECRET_KEY", "")
if not SECRET_KEY and (DEBUG or TESTING):
    SECRET_KEY = dev_secret("SECRET_KEY")
if not DEBUG and not TESTING:
    # Production refuses to start on a weak key: each of these signs or keys something an attacker could forge.
    for _name, _value in (("SECRET_KEY", SECRET_KEY), ("JWT_SIGNING_KEY", envsecret("JWT_SIGNING_KEY", "")),
                          ("KILN_AUDIT_KEY", envsecret("KILN_AUDIT_KEY", ""))):
        if _name != "SECRET_KEY" and not _value:
            continue  # not set: SECRET_KEY, checked above, is used
        _reason = weak_secret_reason(_value)
        if _reason:
            raise ImproperlyConfigured(
                f"{_name} must be set to a random value of at least {SECRET_MIN_LENGTH} characters when DEBUG is "
                f"off; this one {_reason} (it signs login tokens or keys the audit trail). Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
            )

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
KILN_PORT = envint("KILN_PORT", 8000, minimum=1)
# Peers whose X-Forwarded-For we believe (a reverse proxy in front of daphne); anyone else's is ignored.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "scada",
    "accounts",
    "tags",
    "devices",
    "live",
    "drivers",
    "historian",
    "alarms",
    "batches",
    "reports",
    "hmi",
    "deploy",
]

MIDDLEWARE = [
    "scada.middleware.RequestContextMiddleware",
    # Outside the rest, so an error answered by any middleware below (bad Host, CSRF) also becomes JSON.
    "scada.middleware.ApiErrorMiddleware",
    # Before sessions, auth and every view: an oversized body (413) or a NUL in the URL (400) goes no further.
    "scada.middleware.ApiInputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "scada.urls"
WSGI_APPLICATION = "scada.wsgi.application"
ASGI_APPLICATION = "scada.asgi.application"

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

# SQLite is the zero-setup demo default; plants and the test suite use PostgreSQL (psycopg 3).
DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{BASE_DIR / 'kiln.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; the timeout rides out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
        # IMMEDIATE takes the write lock up front, so concurrent writers wait instead of failing "locked".
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A PostgreSQL that accepts TCP but never answers must fail a connect (and let the historian buffer hold
    # the data), not hang a writer or a request forever; keepalives notice a peer that vanished mid-session.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "connect_timeout": envint("DB_CONNECT_TIMEOUT", 3, minimum=1),
        "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,
    })
    # A statement that runs longer is cancelled by the server (a 503 for a request, not a thread held for
    # minutes). The historian writer and maintenance raise it for their own transactions
    # (KILN_HISTORIAN_STATEMENT_TIMEOUT_MS). 0 = no limit; off under tests, whose database set-up (DROP DATABASE
    # waits up to 5 s for old sessions) is not a request, and whose own tests set a timeout where they test one.
    DB_STATEMENT_TIMEOUT_MS = envint("DB_STATEMENT_TIMEOUT_MS", 0 if TESTING else 5000, minimum=0)
    if DB_STATEMENT_TIMEOUT_MS:
        _opts = DATABASES["default"]["OPTIONS"]
        _opts["options"] = f"{_opts.get('options', '')} -c statement_timeout={DB_STATEMENT_TIMEOUT_MS}".strip()
# Under daphne a request's sync code runs on a thread lent for that request (scada/asgi_handler.py), and
# Django's connections are per thread: the pool hands each request a warm connection and takes it back at the
# end, so a burst of threads never holds a PostgreSQL session each. Off in tests (pytest-django manages them).
DB_POOL_MAX_SIZE = envint("DB_POOL_MAX_SIZE", 0 if TESTING else 10, minimum=0)
if DB_POOL_MAX_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool, not Django, keeps connections open
    # timeout: how long a request waits for a pooled connection. Bounded like a connect, so with the server
    # unreachable a request answers 503 within seconds instead of queueing behind the pool's reconnect attempts.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX_SIZE,
                                                              "timeout": envint("DB_POOL_TIMEOUT", 5, minimum=1)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")

AUTH_USER_MODEL = "accounts.User"
# The admin login gets the API login's lockout, rate limit and audit; ModelBackend stays for existing sessions.
AUTHENTICATION_BACKENDS = ["accounts.backends.LockoutModelBackend", "django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    # Hashing cost is not what the suite tests; the production hasher is still PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# Where `manage.py collectstatic` puts the files WhiteNoise serves when DEBUG is off (docs/configuration.md).
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING  # the demo serves static files straight from the apps
WHITENOISE_AUTOREFRESH = DEBUG
# Source maps (7 of the 12 MB collected, fetched only by a browser's developer tools) are served uncompressed:
# compressing them with brotli and gzip was half of every production start's collectstatic.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "webp", "zip", "gz", "tgz", "bz2", "tbz", "xz", "br", "swf", "flv", "woff", "woff2",
    "3gp", "3gpp", "asf", "avi", "m4v", "mov", "mp4", "mpeg", "mpg", "webm", "wmv", "map",
)
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"

LOGIN_URL = "/login/"

# --- Security headers (manage.py check --deploy is clean when DEBUG is off) ---
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_REDIRECT_EXEMPT = [r"^api/system/health$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG or TESTING else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = envint("KILN_SESSION_TIMEOUT_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True

# --- Auth tokens (seed 000: tokens expire after the configured session timeout) ---
ACCESS_TOKEN_MINUTES = envint("KILN_ACCESS_TOKEN_MINUTES", 30, minimum=1)
REFRESH_TOKEN_HOURS = envint("KILN_REFRESH_TOKEN_HOURS", 12, minimum=1)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=REFRESH_TOKEN_HOURS),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": envsecret("JWT_SIGNING_KEY", "") or SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": "user_id",
    "UPDATE_LAST_LOGIN": False,
    "LEEWAY": 0,
}
# Keys the audit trail's hash chain (HMAC-SHA256): without it, write access to the database is not enough to
# forge a consistent chain. Changing it makes earlier records fail `audit_verify`: set it once, keep it safe.
KILN_AUDIT_KEY = envsecret("KILN_AUDIT_KEY", "") or SECRET_KEY
# Signed checkpoints of the audit chain head (docs/audit.md): how often, and a directory (ideally on another
# machine or write-once storage) each one is also exported to, so deleting the newest records is noticed.
KILN_AUDIT_CHECKPOINT_MINUTES = envint("KILN_AUDIT_CHECKPOINT_MINUTES", 60, minimum=1)
KILN_AUDIT_CHECKPOINT_DIR = envstr("KILN_AUDIT_CHECKPOINT_DIR", "")
LOGIN_MAX_FAILURES = envint("KILN_LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = envint("KILN_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
# Lockout is per (account, client address); this many addresses locked out at once lock the account for all.
LOGIN_MAX_LOCKED_ADDRESSES = envint("KILN_LOGIN_MAX_LOCKED_ADDRESSES", 10, minimum=1)

# --- Rate limits (seed 000 RATE LIMITS), requests per minute ---
KILN_RATE_LIMITS = {
    "default": envint("KILN_RATE_LIMIT_DEFAULT", 100, minimum=1),
    "history": envint("KILN_RATE_LIMIT_HISTORY", 20, minimum=1),
    "tag_write": envint("KILN_RATE_LIMIT_TAG_WRITE", 500, minimum=1),
    "login": envint("KILN_RATE_LIMIT_LOGIN", 10, minimum=1),
}
KILN_RATE_LIMIT_ENABLED = envbool("KILN_RATE_LIMIT_ENABLED", True)
KILN_WS_MAX_SUBSCRIPTIONS = envint("KILN_WS_MAX_SUBSCRIPTIONS", 10, minimum=1)
# A client's subscription count per connection lives this long in Redis unless its process renews it (TTL/3).
KILN_WS_SUBSCRIPTION_TTL_SECONDS = envint("KILN_WS_SUBSCRIPTION_TTL_SECONDS", 60, minimum=1)
# Tag writes that state their own time (lab results, store-and-forward): how far back (days) and how far ahead
# of the server clock (seconds) a stated time may be; older or later writes are refused with 422.
KILN_WRITE_BACKFILL_DAYS = envint("KILN_WRITE_BACKFILL_DAYS", 7, minimum=0)
KILN_WRITE_FUTURE_SKEW_SECONDS = envint("KILN_WRITE_FUTURE_SKEW_SECONDS", 300, minimum=0)
# How often each web process re-checks its sockets' credentials (logout, disable → close 4001), and how often
# its live hub pings itself through the channel layer to notice a lost pub/sub message.
KILN_WS_AUTH_CHECK_SECONDS = envint("KILN_WS_AUTH_CHECK_SECONDS", 5, minimum=1)
KILN_WS_WATCHDOG_SECONDS = envint("KILN_WS_WATCHDOG_SECONDS", 2, minimum=1)

# Largest request body (bytes) the API reads; a bigger one is a 413 before authentication (scada.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("KILN_MAX_REQUEST_BYTES", 2_621_440, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.KilnTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["scada.api.permissions.RoleMatrixPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["scada.api.ratelimit.RedisRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["scada.api.renderers.KilnJSONRenderer"],
    # An explicit ?format=csv wins over "Accept: application/json" (the HMI's CSV buttons; was a 406).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "scada.api.negotiation.FormatParamWinsNegotiation",
    "DEFAULT_PARSER_CLASSES": ["scada.api.parsers.KilnJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["scada.api.filters.KilnFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "scada.api.pagination.LimitOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "scada.api.schema.KilnAutoSchema",
    "EXCEPTION_HANDLER": "scada.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 100,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Kiln SCADA API",
    "DESCRIPTION": "REST API of Kiln: tags, history, alarms, batches, users, audit. WebSocket at /ws?token=...: "
                   "protocol and examples at [/api/docs/ws/](/api/docs/ws/) (AsyncAPI: /api/ws/asyncapi.json).",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SECURITY": [{"jwtAuth": []}],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT or API key"}}
    },
    "AUTHENTICATION_WHITELIST": [],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "scada.api.schema.no_nul_strings_hook"],
    # Several `status` choice fields (devices' machine status, batches' and recipes' status): name each enum.
    "ENUM_NAME_OVERRIDES": {"BatchStatusEnum": "batches.choices.BatchStatus",
                            "RecipeStatusEnum": "batches.choices.RecipeStatus",
                            "MachineStatusEnum": "tags.choices.MachineStatus",
                            "ReportFormatEnum": "reports.choices.ReportFormat"},
}

# --- Channels (WebSocket). socket_timeout: redis-py 8 would otherwise time out idle reads after 5 s. ---
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}],
            "capacity": 1000,
            "expiry": 30,
        },
    }
}
# Live tag values (live.publisher): one Redis PUBLISH per recorded batch, pushed to each web process's hub; measured
# ~7x less CPU and ~8x less latency per batch than the list-based layer above. At most once: a hub that misses a
# batch sees the gap in its sequence numbers and resends current values. Pub/sub channels are server-wide, not
# per database, so the prefix names the database: Kilns (or test runs) sharing one Redis never hear each other.
CHANNEL_LAYERS["live"] = {
    "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_connect_timeout": 5}],
               "prefix": f"kiln:{REDIS_URL.split('?')[0].rsplit('/', 1)[-1]}:"},
}
# Other apps' messages on /ws (live/consumers.py), resolved with import_string when live loads: client message
# type → async handler(consumer, content), and channel-layer event type → async handler(consumer, message).
KILN_LIVE_MESSAGE_HANDLERS = {
    "subscribe_alarms": "alarms.live.handle_subscribe_alarms",
    "unsubscribe_alarms": "alarms.live.handle_unsubscribe_alarms",
    "subscribe_batch": "batches.live.handle_subscribe_batch",
    "unsubscribe_batch": "batches.live.handle_unsubscribe_batch",
}
KILN_LIVE_EVENT_HANDLERS = {"alarm.update": "alarms.live.on_alarm_update",
                            "batch.update": "batches.live.on_batch_update"}

# --- Celery ---
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]  # never pickle: task payloads may carry user or PLC data
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection (and the pool) only every 2 × this many tasks; between
# tasks scada/celery.py hands connections back to the pool instead, so workers reuse their sessions.
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 1000, minimum=0)  # 0: Celery's own (close after every task)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE: dict = {}
# Drivers: re-arm the poll loop of any enabled connection whose lease lapsed (drivers/tasks.py).
CELERY_BEAT_SCHEDULE["drivers-supervise"] = {"task": "drivers.poll_supervise", "schedule": 5.0,
                                             "options": {"queue": "drivers", "expires": 10}}
# Alarms: on/off-delays that ran out, shelving that expired, journal rows deferred by a DB outage (alarms/tasks.py).
CELERY_BEAT_SCHEDULE["alarms-timers"] = {"task": "alarms.tasks.alarms_timers_task", "schedule": 1.0,
                                         "options": {"expires": 5}}
# Audit: a signed checkpoint of the chain head (accounts/tasks.py).
CELERY_BEAT_SCHEDULE["audit-checkpoint"] = {"task": "accounts.tasks.audit_checkpoint_task",
                                            "schedule": KILN_AUDIT_CHECKPOINT_MINUTES * 60.0}
# Historian (historian/tasks.py): drain the buffer into PostgreSQL, refresh rollups, heartbeat, audit what was
# dropped, compact old rows into chunks, and maintain partitions (create ahead, retention).
CELERY_BEAT_SCHEDULE |= {
    "historian-writer": {"task": "historian.tasks.historian_writer_task", "schedule": 1.0,
                         "options": {"expires": 2}},
    "historian-rollups": {"task": "historian.tasks.historian_rollups_task", "schedule": 10.0,
                          "options": {"expires": 10}},
    "historian-heartbeat": {"task": "historian.tasks.historian_heartbeat_task", "schedule": 60.0,
                            "options": {"expires": 60}},
    "historian-drops-audit": {"task": "historian.tasks.historian_drops_audit_task", "schedule": 30.0,
                              "options": {"expires": 30}},
    "historian-maintenance": {"task": "historian.tasks.historian_maintenance_task", "schedule": 3600.0,
                              "options": {"expires": 600}},
    "historian-compact": {"task": "historian.tasks.historian_compact_task", "schedule": 300.0,
                          "options": {"expires": 300}},
}

# --- Extension points (code settings, not env vars; docs/architecture.md "Extending Kiln", scada/extensions.py) ---
# What tags.values.tag_values_record hands each recorded batch to, in this order (like MIDDLEWARE). Push first:
# the HMI's latency is one PUBLISH, not the historian's EVALSHA plus alarm evaluation. Historian before alarms:
# a sample is buffered even if alarm evaluation fails. A consumer whose function has `backfill = True` (the
# historian) also receives samples older than the live value (tags.values.Change.backfill).
KILN_VALUE_CONSUMERS = [
    "live.publisher.push_changes",
    "historian.buffer.historian_buffer_append",
    "alarms.evaluation.alarms_on_values",
]
# How a tag write reaches a PLC (tags.writers.WriteRouter); a class, instantiated once per process.
KILN_WRITE_ROUTER = "drivers.writes.DriverWriteRouter"
# Run by Tag.clean in order; each raises ValidationError keyed by Tag fields.
KILN_TAG_VALIDATORS = ["drivers.models.tag_fits_its_binding"]
# fn(tag name) → [{"kind", "name", "url"}, …]: where a tag is used, shown on its admin page and when it is renamed
# or deleted (tags.selectors.tag_usage).
KILN_TAG_USAGE_PROVIDERS = ["hmi.selectors.screen_tag_usage"]
# fn(machine) → seed 004 alarm dicts for a device's `activeAlarms`; empty means a device never shows alarms.
KILN_DEVICE_ALARMS_PROVIDER = "alarms.selectors.device_alarms"
# Components of /api/system/status after database, Redis and Celery, in this order; each returns (name, dict).
KILN_STATUS_PROVIDERS = ["drivers.selectors.drivers_status_provider", "historian.buffer.historian_status_provider"]
# `manage.py health` runs these (scada/health.py): each returns a scada.health.Health for one kind of background work.
KILN_HEALTH_CHECKS = ["drivers.selectors.drivers_health", "historian.health.historian_health",
                      "alarms.selectors.alarms_health"]
# `manage.py demo_load` runs these in order: users, plant tags, drivers, alarms (on the plant's tags), recipes, screens.
KILN_DEMO_LOADERS = [
    "accounts.demo.load_users",
    "tags.demo.load_plant",
    "drivers.demo.load_drivers",
    "drivers.demo.load_opcua_demo",
    "alarms.demo.load_alarms",
    "batches.demo.load_recipes",
    "reports.demo.load_reports",
    "hmi.demo.load_screens",
]
KILN_CONFIG_SECTIONS = [f"{app}.configsection.{name}Section" for app, names in (("tags", ("Site", "DeviceType",
    "DeviceMember", "DeviceCommand", "Machine", "Tag")),
    ("drivers", ("Connection", "Binding", "NodeBinding", "MetricBinding", "TopicBinding")),
    ("alarms", ("AlarmDefinition",)), ("hmi", ("Screen",)), ("batches", ("Recipe",)),
    ("reports", ("ReportDefinition",))) for name in names]  # in dependency order: docs/deploy.md
KILN_INSTANCE_NAME, KILN_INSTANCE_ROLE = envstr("KILN_INSTANCE_NAME", "kiln"), envstr("KILN_INSTANCE_ROLE", "").lower()
KILN_DEPLOY_TARGET_URL = envstr("KILN_DEPLOY_TARGET_URL", "")
KILN_DEPLOY_TARGET_API_KEY = envsecret("KILN_DEPLOY_TARGET_API_KEY", "")
KILN_DEPLOY_TIMEOUT_SECONDS = envint("KILN_DEPLOY_TIMEOUT_SECONDS", 60, minimum=1)

# --- OPC UA driver (docs/configuration.md, docs/drivers.md) ---
# Seconds a server's source/server timestamp may differ from this machine's clock before Kiln stamps the sample
# with its own receive time instead (counted as `server_time_replaced` in the connection's status).
KILN_OPCUA_CLOCK_SKEW = envint("KILN_OPCUA_CLOCK_SKEW", 10, minimum=1)
# Kiln's OPC UA application certificate and key (made on first secure connection) live here.
KILN_OPCUA_PKI_DIR = envstr("KILN_OPCUA_PKI_DIR", str(BASE_DIR / ".kiln" / "opcua-pki"))
# asyncua logs every retry and keep-alive at INFO; the driver reports state changes itself.
KILN_OPCUA_LOG_LEVEL = envstr("KILN_OPCUA_LOG_LEVEL", "WARNING").upper()
# The poll-loop backend of each Connection.protocol (drivers.backends): a class with run(), write_request().
KILN_DRIVER_BACKENDS = {
    "modbus_tcp": "drivers.backends.ModbusBackend",
    "opcua": "drivers.opcua.backend.OpcuaBackend",
    "sparkplug": "drivers.sparkplug.backend.SparkplugBackend",
    "mqtt_json": "drivers.mqttjson.backend.MqttJsonBackend",
}

# --- Historian (docs/configuration.md; read through historian.conf so tests can override them) ---
# Store and forward: most samples the Redis buffer may hold before new batches are dropped (counted, audited).
KILN_HISTORIAN_BUFFER_QUOTA = envint("KILN_HISTORIAN_BUFFER_QUOTA", 5_000_000, minimum=1_000)
# Percentage of the quota at which /api/system/status reports the historian as degraded.
KILN_HISTORIAN_BUFFER_WARN_PERCENT = envint("KILN_HISTORIAN_BUFFER_WARN_PERCENT", 80, minimum=1)
# `manage.py health historian` fails when the oldest buffered sample is older than this (writer dead or behind).
KILN_HISTORIAN_HEALTH_MAX_LAG_SECONDS = envint("KILN_HISTORIAN_HEALTH_MAX_LAG_SECONDS", 30, minimum=1)
# Writer: samples per COPY transaction, and how long one scheduled writer run may keep draining.
KILN_HISTORIAN_WRITER_BATCH = envint("KILN_HISTORIAN_WRITER_BATCH", 50_000, minimum=100)
KILN_HISTORIAN_WRITER_RUN_SECONDS = envint("KILN_HISTORIAN_WRITER_RUN_SECONDS", 25, minimum=1)
# Partitions: span (1 = daily, 7 = weekly from Monday), created this many days ahead by beat.
KILN_HISTORIAN_PARTITION_DAYS = envint("KILN_HISTORIAN_PARTITION_DAYS", 1, minimum=1)
KILN_HISTORIAN_PARTITIONS_AHEAD_DAYS = envint("KILN_HISTORIAN_PARTITIONS_AHEAD_DAYS", 3, minimum=1)
# Samples older than this move from rows into compressed chunks (historian/chunks.py; 0 = never), a window of
# COMPACT_BATCH minutes per transaction (also a chunk's span, at most a day), for at most COMPACT_BUDGET s a run.
KILN_HISTORIAN_COMPACT_AFTER_HOURS = envint("KILN_HISTORIAN_COMPACT_AFTER_HOURS", 2, minimum=0)
KILN_HISTORIAN_COMPACT_BATCH = min(envint("KILN_HISTORIAN_COMPACT_BATCH", 60, minimum=1), 1440)
KILN_HISTORIAN_COMPACT_BUDGET = envint("KILN_HISTORIAN_COMPACT_BUDGET", 240, minimum=1)
# Retention of raw samples and 1-minute rollups, and of 1-hour rollups, in days (0 = keep forever).
KILN_HISTORIAN_RETENTION_DAYS = envint("KILN_HISTORIAN_RETENTION_DAYS", 730, minimum=0)
KILN_HISTORIAN_ROLLUP_RETENTION_DAYS = envint("KILN_HISTORIAN_ROLLUP_RETENTION_DAYS", 0, minimum=0)
# Rollups: one transaction recomputes at most this many minutes of dirty raw data.
KILN_HISTORIAN_ROLLUP_CHUNK_MINUTES = envint("KILN_HISTORIAN_ROLLUP_CHUNK_MINUTES", 60, minimum=1)
# A minute is rolled up this long after it closes; negative: the open minute too, on every run (before issue 18).
KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS = envint("KILN_HISTORIAN_ROLLUP_SETTLE_SECONDS", 5, minimum=-1)
# "Store at least every N minutes" default for tags without their own setting (0 = off).
KILN_HISTORIAN_STORE_EVERY_MINUTES = envint("KILN_HISTORIAN_STORE_EVERY_MINUTES", 60, minimum=0)
# Queries: most points one request may return, and most tags in one /api/history request.
# Statement timeout for the writer's COPY transaction and for maintenance (partitions, CLUSTER, rollups), in ms;
# they replace the process-wide DB_STATEMENT_TIMEOUT_MS, which is sized for web requests (0 = none).
KILN_HISTORIAN_STATEMENT_TIMEOUT_MS = envint("KILN_HISTORIAN_STATEMENT_TIMEOUT_MS", 600_000, minimum=0)
KILN_HISTORY_MAX_POINTS = envint("KILN_HISTORY_MAX_POINTS", 100_000, minimum=100)
KILN_HISTORY_MAX_TAGS = envint("KILN_HISTORY_MAX_TAGS", 100, minimum=1)

# --- Plant, reports and e-mail (docs/configuration.md, docs/reports.md) ---
KILN_PLANT_NAME = envstr("KILN_PLANT_NAME", "Kiln demo plant")
KILN_PLANT_TIME_ZONE = envstr("KILN_PLANT_TIME_ZONE", "UTC")  # reports, charts and schedules; storage stays UTC
try:
    ZoneInfo(KILN_PLANT_TIME_ZONE)
except (ValueError, KeyError, OSError):
    raise ImproperlyConfigured(f"KILN_PLANT_TIME_ZONE must be an IANA time zone, got {KILN_PLANT_TIME_ZONE!r}")
KILN_REPORTS_DIR = Path(envstr("KILN_REPORTS_DIR", str(MEDIA_ROOT / "reports")))
KILN_REPORTS_RETENTION_DAYS = envint("KILN_REPORTS_RETENTION_DAYS", 90, minimum=1)
KILN_REPORTS_INLINE_MAX_ROWS = envint("KILN_REPORTS_INLINE_MAX_ROWS", 5000, minimum=0)  # CSVs written by the request
KILN_REPORTS_WAIT_SECONDS = envint("KILN_REPORTS_WAIT_SECONDS", 0 if TESTING else 2, minimum=0)
KILN_REPORTS_MAX_ROWS = envint("KILN_REPORTS_MAX_ROWS", 5_000_000, minimum=1000)
KILN_REPORTS_PDF_MAX_ROWS = envint("KILN_REPORTS_PDF_MAX_ROWS", 5000, minimum=10)
KILN_REPORTS_CHUNK_POINTS = envint("KILN_REPORTS_CHUNK_POINTS", 20_000, minimum=100)
KILN_REPORTS_TASK_TIME_LIMIT = envint("KILN_REPORTS_TASK_TIME_LIMIT", 1800, minimum=10)
# The reports worker's PostgreSQL work, paced (reports/pacing.py): a sleep of this % of each statement's time after
# it, and its backend process reniced to this (PostgreSQL on this host, where the OS permits; 0: off).
KILN_REPORTS_DB_YIELD_PERCENT = envint("KILN_REPORTS_DB_YIELD_PERCENT", 100, minimum=0)
KILN_REPORTS_DB_NICE = envint("KILN_REPORTS_DB_NICE", 10, minimum=0)
KILN_REPORTS_EMAIL_MAX_BYTES = envint("KILN_REPORTS_EMAIL_MAX_BYTES", 10 * 1024 * 1024, minimum=0)
# Report kinds definitions may use, in listing order (a code setting, like the extension lists above).
KILN_REPORT_KINDS = ["reports.kinds.tag_history.TagHistoryReport", "reports.kinds.alarm_journal.AlarmJournalReport",
                     "reports.kinds.audit_trail.AuditTrailReport", "reports.kinds.shift.ShiftReport",
                     "reports.kinds.alarm_kpis.AlarmKpiReport", "reports.kinds.batch_record.BatchRecordReport"]
CELERY_BEAT_SCHEDULE |= {
    "reports-purge": {"task": "reports.tasks.report_purge_task", "schedule": 3600.0, "options": {"expires": 600}},
    "reports-schedules": {"task": "reports.tasks.report_schedules_task", "schedule": 60.0, "options": {"expires": 55}}}
EMAIL_HOST, EMAIL_PORT = envstr("EMAIL_HOST", "localhost"), envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_USER", ""), envsecret("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS, EMAIL_USE_SSL = envbool("EMAIL_USE_TLS", False), envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one")
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10, minimum=1)  # seconds: an SMTP server that hangs must not hang a worker
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "kiln@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "asyncua": {"level": KILN_OPCUA_LOG_LEVEL}},
}

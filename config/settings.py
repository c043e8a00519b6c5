"""Cuore's settings: everything that varies between installations comes from the environment."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from config.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_list,
    env_path,
    env_secret_key,
    env_time_zone,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DATA_DIR = env_path("CUORE_DATA_DIR", "./var")
DEBUG = env_bool("CUORE_DEBUG", True)
SECRET_KEY = env_secret_key("CUORE_SECRET_KEY", data_dir=DATA_DIR, debug=DEBUG)
ALLOWED_HOSTS = env_list("CUORE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])

DATABASES = {"default": env_database("CUORE_DATABASE_URL", default_sqlite_path=DATA_DIR / "cuore.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

globals().update(env_email("CUORE_EMAIL_URL"))
DEFAULT_FROM_EMAIL = "Cuore <cuore@localhost>"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "cuore.core",
    "cuore.users",
    "cuore.contacts",
    "cuore.identity",
    "cuore.sales",
    "cuore.orders",
    "cuore.service",
    "cuore.interactions",
    "cuore.imports",
    "cuore.analytics",
    "cuore.home",
    "cuore.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "cuore.users.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cuore.core.middleware.AuditChannelMiddleware",
    "cuore.core.middleware.RejectNulMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "users.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "cuore" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("it", _("Italian"))]
LOCALE_PATHS = [BASE_DIR / "cuore" / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]  # English dates day-first with a 24-hour clock
USE_I18N = True
# Times are stored in UTC and the API answers in UTC; pages show them, and forms read them, here.
TIME_ZONE = env_time_zone("CUORE_TIME_ZONE", "Europe/Rome")
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The front-end packages (package.json, installed by `npm ci`) are served from node_modules as they are.
NODE_MODULES = BASE_DIR / "node_modules"
VENDOR_STATIC = {
    "bootstrap": "bootstrap/dist",
    "bootstrap-icons": "bootstrap-icons/font",
    "htmx": "htmx.org/dist",
    "chart.js": "chart.js/dist",
    "sortablejs": "sortablejs",
}
STATICFILES_DIRS = [(f"vendor/{name}", NODE_MODULES / path) for name, path in VENDOR_STATIC.items()]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Production (CUORE_DEBUG=0) assumes HTTPS, usually terminated by a proxy that sets X-Forwarded-Proto:
# redirect plain HTTP, send HSTS, keep cookies to HTTPS. CUORE_HTTPS=0 serves plain HTTP (a closed LAN).
HTTPS = env_bool("CUORE_HTTPS", not DEBUG)
if HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("CUORE_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("CUORE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

NINJA_PAGINATION_MAX_LIMIT = 200

# Background jobs (cuore.core.jobs): a worker's claim on a job lasts this long unless renewed (a
# heartbeat renews it every third of it), so a killed worker's job is taken up again after at most this.
JOB_LEASE_SECONDS = env_int("CUORE_JOB_LEASE_SECONDS", 300, minimum=1)

# Analytics runs (cuore.analytics): the most memory DuckDB may hold for the warehouse; beyond it, it
# evicts and spills to DATA_DIR/warehouse/*.tmp. Its own default, 80 % of the RAM, lets one run keep
# every intermediate table in memory.
ANALYTICS_MEMORY_MB = env_int("CUORE_ANALYTICS_MEMORY_MB", 1536, minimum=128)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

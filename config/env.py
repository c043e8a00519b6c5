"""Typed readers for settings taken from the environment.

Each helper raises ``ImproperlyConfigured`` naming the variable and what was wrong with it, so a
malformed value stops the start with one clear line instead of a failure somewhere later.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_time_zone(name: str, default: str) -> str:
    """An IANA time zone name such as ``Europe/Rome``."""
    import zoneinfo

    raw = os.environ.get(name, default).strip()
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a time zone: use a name such as Europe/Rome or UTC."
        ) from None
    return raw


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",") if item.strip()]
    if not items:
        raise ImproperlyConfigured(f"{name} is set but empty: give a comma-separated list.")
    return items


def env_path(name: str, default: str) -> Path:
    raw = os.environ.get(name, default)
    if not raw.strip():
        raise ImproperlyConfigured(f"{name} is set but empty: give a directory path.")
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ImproperlyConfigured(f"{name}={raw!r} exists and is not a directory.")
    return path


def env_secret_key(name: str, *, data_dir: Path, debug: bool) -> str:
    """Read the secret key; in development, keep a generated one in the data directory."""
    raw = os.environ.get(name)
    if raw is not None:
        if len(raw) < 32:
            raise ImproperlyConfigured(f"{name} is too short: use at least 32 random characters.")
        return raw
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    if not debug:
        raise ImproperlyConfigured(f"{name} must be set when CUORE_DEBUG is off.")
    from django.utils.crypto import get_random_string

    data_dir.mkdir(parents=True, exist_ok=True)
    key = get_random_string(64)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


_SQLITE_OPTIONS = {
    # WAL lets readers work while one writer writes; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on the busy timeout instead of failing half-way with "database is locked".
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
    "init_command": (
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "PRAGMA foreign_keys=ON;"
        "PRAGMA cache_size=-65536;"
        "PRAGMA mmap_size=1073741824;"
        "PRAGMA temp_store=MEMORY;"
    ),
}


def parse_database_url(name: str, raw: str) -> dict:
    """Turn ``sqlite:///path`` or ``postgresql://user:pass@host:port/db?opt=v`` into Django's dict."""
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            raise ImproperlyConfigured(
                f"{name}: write SQLite URLs as sqlite:////absolute/path.db (three or four slashes)."
            )
        if not path or path == "/":
            raise ImproperlyConfigured(f"{name}: the SQLite URL has no file path.")
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": dict(_SQLITE_OPTIONS)}
    if scheme in {"postgres", "postgresql", "pgsql"}:
        database = unquote(parts.path.lstrip("/"))
        if not database:
            raise ImproperlyConfigured(f"{name}: the PostgreSQL URL names no database (…/DBNAME).")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured(f"{name}: the port in the PostgreSQL URL is not a number.") from None
        options = dict(parse_qsl(parts.query))
        host = unquote(parts.hostname or "") or options.pop("host", "")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": database,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": host,
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ImproperlyConfigured(f"{name}={raw!r}: unsupported scheme {scheme!r}; use sqlite:/// or postgresql://.")


def env_database(name: str, *, default_sqlite_path: Path) -> dict:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(default_sqlite_path),
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    return parse_database_url(name, raw.strip())


def env_email(name: str) -> dict:
    """Read ``smtp://user:pass@host:port?tls=1`` (or ``console:`` / ``locmem:``) into email settings."""
    raw = os.environ.get(name, "console:")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "locmem":
        return {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if scheme in {"smtp", "smtps"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name}: the SMTP URL names no host.")
        try:
            port = parts.port or (465 if scheme == "smtps" else 25)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: the port in the SMTP URL is not a number.") from None
        query = dict(parse_qsl(parts.query))
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_SSL": scheme == "smtps",
            "EMAIL_USE_TLS": query.get("tls", "0").lower() in _TRUE,
        }
    raise ImproperlyConfigured(
        f"{name}={raw!r}: unsupported scheme {scheme!r}; use smtp://, smtps://, console: or locmem:."
    )

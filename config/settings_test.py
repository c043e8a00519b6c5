"""Settings for the test suite: a throw-away data directory, fast hashing, SQLite or PostgreSQL.

``CUORE_TEST_DB=postgresql`` runs the suite on PostgreSQL: on ``CUORE_TEST_DATABASE_URL`` when it is
set, otherwise on a throw-away cluster started from the local PostgreSQL binaries for this run.
"""

import os
import tempfile

os.environ.setdefault("CUORE_DATA_DIR", tempfile.mkdtemp(prefix="cuore-test-"))
os.environ.setdefault("CUORE_SECRET_KEY", "test-secret-key-that-is-long-enough-for-django")
os.environ.setdefault("CUORE_DEBUG", "1")
os.environ.setdefault("CUORE_EMAIL_URL", "locmem:")
os.environ.setdefault("CUORE_TIME_ZONE", "UTC")

from config.env import parse_database_url
from config.settings import *  # noqa: F403
from config.settings import DATA_DIR

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_test_db = os.environ.get("CUORE_TEST_DB", "sqlite").lower()
if _test_db in {"postgresql", "postgres", "pg"}:
    url = os.environ.get("CUORE_TEST_DATABASE_URL")
    if not url:
        from config.pgcluster import start_throwaway_cluster

        url = start_throwaway_cluster()
    DATABASES = {"default": parse_database_url("CUORE_TEST_DATABASE_URL", url)}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif _test_db == "sqlite":
    DATABASES["default"]["NAME"] = str(DATA_DIR / "test.sqlite3")
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
else:
    raise RuntimeError(f"CUORE_TEST_DB={_test_db!r}: use sqlite or postgresql")

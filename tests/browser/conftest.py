"""Browser tests: a live Cuore server on 127.0.0.1 and Chromium driven by Playwright.

Debian's Chromium (``/usr/bin/chromium``, installed by ``.ci/run``) is used when present, with
``--no-sandbox`` when running as root; otherwise Playwright's own browser. Screenshots of the pages
go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make to set up
# data are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "Secret-pass-123"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=args, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900}, locale="en-GB")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def login(page):
    """Log ``user`` in through the login form, as a person would."""

    def log_in(user) -> None:
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")

    return log_in


@pytest.fixture
def screenshot(page):
    """Save the current page as ``test-artifacts/screenshots/<name>.png``."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Let the live-server tests' database flush pass the audit log's append-only triggers on SQLite.

    PostgreSQL empties tables with TRUNCATE, which row triggers do not see; SQLite deletes rows, which
    the trigger refuses. The triggers are dropped for the flush and put back right after it.
    """
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    blocker = item.config.stash[blocking_manager_key]
    vendor = connection.vendor
    if vendor == "sqlite":
        with blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_update")
            cursor.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    yield
    if vendor == "sqlite":
        import importlib

        migration = importlib.import_module("cuore.core.migrations.0003_audit_append_only")
        with blocker.unblock(), connection.cursor() as cursor:
            # After the session's last test the test database is already gone: nothing to put back.
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'core_auditentry'")
            if cursor.fetchone() is None:
                return
            for statement in migration.SQLITE:
                cursor.execute(statement)

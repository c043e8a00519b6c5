"""Every string the web application shows has its Italian translation.

For each app, the messages are extracted afresh (Django's ``makemessages``, into a copy of the app)
and merged with the app's catalogue: an untranslated, fuzzy or newly added string fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

PACKAGE = Path(__file__).resolve().parents[2]
APPS_WITH_PAGES = sorted(
    path.parent.name for path in PACKAGE.glob("*/templates") if path.is_dir() and any(path.rglob("*.html"))
)


def test_apps_with_pages_are_known():
    assert "core" in APPS_WITH_PAGES and "contacts" in APPS_WITH_PAGES


@pytest.mark.slow
@pytest.mark.parametrize("app", APPS_WITH_PAGES)
def test_every_string_of_the_app_is_translated_to_italian(app, tmp_path):
    assert shutil.which("xgettext"), "GNU gettext (xgettext) is needed to extract messages: apt-get install gettext"
    copy = tmp_path / app
    shutil.copytree(PACKAGE / app, copy, ignore=shutil.ignore_patterns("tests", "__pycache__", "migrations", "*.mo"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "PYTHONPATH": str(PACKAGE.parent)}
    django_admin = Path(sys.executable).with_name("django-admin")
    subprocess.run(
        [str(django_admin), "makemessages", "-l", "it", "--no-obsolete"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
    )
    with (copy / "locale" / "it" / "LC_MESSAGES" / "django.po").open("rb") as po_file:
        catalogue = read_po(po_file)

    untranslated = [
        message.id
        for message in catalogue
        if message.id
        and (
            "fuzzy" in message.flags
            or not (all(message.string) if isinstance(message.string, tuple) else message.string)
        )
    ]
    assert untranslated == [], f"cuore/{app}: strings without an Italian translation (run makemessages and translate)"

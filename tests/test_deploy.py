"""Production settings pass Django's deployment checklist, and pages carry its security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CUORE_") and key not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        CUORE_DEBUG="0",
        CUORE_SECRET_KEY="a-production-secret-key-" + "x7Qp2" * 10,
        CUORE_DATA_DIR=str(tmp_path),
        CUORE_ALLOWED_HOSTS="crm.example.com",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_pages_send_the_security_headers(client, make_user):
    client.force_login(make_user(role="manager"))

    response = client.get("/contacts/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
@override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=31_536_000,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
def test_behind_https_plain_http_is_redirected_and_hsts_is_sent(client):
    plain = client.get("/login/")
    secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})

    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")

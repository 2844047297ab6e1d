"""Security headers and CORS restricted by setting."""

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_security_headers_on_api(api_client):
    r = api_client.get("/api/system/ping")
    assert r["X-Content-Type-Options"] == "nosniff"
    assert r["X-Frame-Options"] == "DENY"
    assert r["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_cors_denied_by_default(api_client):
    r = api_client.get("/api/system/ping", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in r


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example.com"])
def test_cors_allowed_origin(api_client):
    r = api_client.get("/api/system/ping", HTTP_ORIGIN="https://app.example.com")
    assert r["Access-Control-Allow-Origin"] == "https://app.example.com"
    r = api_client.get("/api/system/ping", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in r


def test_deploy_check_is_clean_in_production_settings(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 40 + "-production-like-secret-key-0123456789",
        "AMARKTAI_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "amarktai.settings",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

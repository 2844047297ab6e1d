"""Security headers and CORS restricted by setting."""

import os

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


@pytest.mark.slow
def test_one_hsts_header_behind_nginx():
    """Django sends HSTS (SECURE_HSTS_SECONDS) and so does nginx, for every response: nginx drops the app's, so a
    proxied response carries exactly one, nginx's."""
    import shutil

    import httpx

    from tests import servers

    if not (servers.nginx_binary() and shutil.which("openssl")):
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail("nginx and openssl are needed: CI must run the nginx tests", pytrace=False)
        pytest.skip("nginx or openssl not installed; CI runs this test")
    env = {"DATABASE_URL": None, "SECURE_HSTS_SECONDS": None, "METRICS_TOKEN": None}
    with servers.gunicorn(env) as app, servers.nginx(int(app.rsplit(":", 1)[1])) as (proxy, workdir):
        direct = httpx.get(f"{app}/api/system/ping", headers={"X-Forwarded-Proto": "https"})
        assert direct.headers.get_list("strict-transport-security"), "the app itself sends HSTS over HTTPS"
        with httpx.Client(base_url=proxy, verify=servers.tls_context(workdir)) as client:
            for path in ("/api/system/ping", "/api/no-such-endpoint", "/metrics"):
                response = client.get(path)
                assert response.headers.get_list("strict-transport-security") == [
                    "max-age=31536000; includeSubDomains"
                ], (path, response.status_code)

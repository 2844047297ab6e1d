"""A release changes the URL of every changed static file (docs/operations.md, "Static files and releases"):

- ``collectstatic`` with the production storage writes content-hashed names and a manifest, and the portal's pages,
  rendered with DEBUG off, link to those names;
- the pages themselves answer ``Cache-Control: no-cache``;
- nginx, from the repository's nginx.conf, serves hashed names for a year (immutable) and other names no-cache, with
  one Cache-Control and one HSTS header each.

The test settings keep the non-manifest storage so that the rest of the suite needs no collectstatic."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import override_settings

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
HASHED = re.compile(r'/static/portal/app\.([0-9a-f]{12})\.(js|css)"')
HSTS = "max-age=31536000; includeSubDomains"


@pytest.fixture(scope="module")
def collected():
    """``manage.py collectstatic`` with the production settings into a fresh STATIC_ROOT (readable by nginx's
    unprivileged workers)."""
    var = Path(tempfile.mkdtemp(prefix="amarktai-static-"))
    var.chmod(0o755)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "amarktai.settings",
        "AMARKTAI_VAR_DIR": str(var),
        "DEBUG": "0",
        "PYTHONPATH": str(ROOT),
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        for path in [var, *var.rglob("*")]:  # the generated keys are 0600; nginx only needs the static tree
            if path.is_dir():
                path.chmod(0o755)
        yield var / "staticfiles"
    finally:
        shutil.rmtree(var, ignore_errors=True)


def test_production_storage_is_the_manifest_storage():
    from amarktai.settings import base

    assert base.STORAGES["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


@pytest.mark.django_db
def test_portal_pages_link_to_hashed_names_and_are_not_cached(client, collected):
    assert (collected / "staticfiles.json").exists()
    from amarktai.settings import base

    production = {**settings.STORAGES, "staticfiles": base.STORAGES["staticfiles"]}
    with override_settings(DEBUG=False, STORAGES=production, STATIC_ROOT=collected):
        for url in ("/login", "/dashboard"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response["Cache-Control"] == "no-cache", url
            html = response.content.decode()
            found = {(ext, digest) for digest, ext in HASHED.findall(html)}
            assert {ext for ext, _ in found} == {"js", "css"}, html[:600]
            for ext, digest in found:
                assert (collected / "portal" / f"app.{digest}.{ext}").exists()
            assert '/static/portal/app.js"' not in html


@pytest.mark.django_db
def test_portal_pages_send_no_cache(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache"


def _require_nginx():
    if servers.nginx_binary() and shutil.which("openssl"):
        return
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail("nginx and openssl are needed: CI must run the nginx tests", pytrace=False)
    pytest.skip("nginx or openssl not installed; CI runs this test")


@pytest.mark.slow
def test_nginx_caches_hashed_names_for_long_and_the_rest_not(collected):
    _require_nginx()
    directory = Path(tempfile.mkdtemp(prefix="amarktai-nginx-static-"))
    directory.chmod(0o755)
    https_port = servers.free_port()
    conf = servers.nginx_config(
        directory, api_port=servers.free_port(), http_port=servers.free_port(), https_port=https_port
    )
    text = conf.read_text()
    assert "alias var/staticfiles/;" in text
    assert "alias var/staticfiles/portal/favicon.ico;" in text
    text = text.replace("alias var/staticfiles/portal/favicon.ico;", f"alias {collected}/portal/favicon.ico;")
    conf.write_text(text.replace("alias var/staticfiles/;", f"alias {collected}/;"))
    log = open(directory / "nginx.out", "w+")
    proc = subprocess.Popen(servers.nginx_command(conf, directory, "daemon off;"), stdout=log, stderr=subprocess.STDOUT)
    hashed = next((collected / "portal").glob("app.[0-9a-f]*.js")).name
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=servers.tls_context(directory)) as client:
            deadline = time.monotonic() + 20
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise AssertionError("nginx exited: " + log.read()[-3000:])
                try:
                    client.get("/static/portal/app.js", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "nginx did not come up"
                    time.sleep(0.2)

            long_lived = client.get(f"/static/portal/{hashed}")
            assert long_lived.status_code == 200
            assert long_lived.headers.get_list("cache-control") == ["public, max-age=31536000, immutable"]
            assert long_lived.headers.get_list("strict-transport-security") == [HSTS]
            assert "expires" not in long_lived.headers

            for name in ("app.js", "app.css", "favicon.svg"):
                plain = client.get(f"/static/portal/{name}")
                assert plain.status_code == 200, name
                assert plain.headers.get_list("cache-control") == ["no-cache"], name
                assert plain.headers.get_list("strict-transport-security") == [HSTS], name

            icon = client.get("/favicon.ico")  # browsers ask for it on their own
            assert icon.status_code == 200
            assert icon.headers["content-type"] == "image/x-icon"
            assert icon.content == (collected / "portal" / "favicon.ico").read_bytes()
            assert icon.headers.get_list("strict-transport-security") == [HSTS]

            missing = client.get("/static/portal/nothing.0123456789ab.js")
            assert missing.status_code == 404
            assert missing.headers.get_list("strict-transport-security") == [HSTS]
    finally:
        servers.stop(proc)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)

"""nginx.conf is valid (nginx -t) and keeps the contract's real-time location blocks."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "nginx.conf"


def _block(text, location):
    match = re.search(r"location\s+" + re.escape(location) + r"\s*\{(.*?)\n\s*\}", text, re.S)
    assert match, f"no location {location}"
    return match.group(1)


def test_realtime_locations_follow_the_contract():
    text = CONF.read_text()
    sse = _block(text, "/api/realtime/")
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Connection '';",
        "proxy_buffering off;",
        "proxy_cache off;",
        "proxy_read_timeout 24h;",
        "chunked_transfer_encoding off;",
        "proxy_pass http://asgi;",
    ):
        assert line in sse
    ws = _block(text, "/api/ws")
    for line in (
        "proxy_set_header Upgrade $http_upgrade;",
        'proxy_set_header Connection "upgrade";',
        "proxy_read_timeout 24h;",
        "proxy_send_timeout 24h;",
        "proxy_pass http://asgi;",
    ):
        assert line in ws
    metrics = _block(text, "= /metrics")
    assert "deny all;" in metrics and "allow 127.0.0.1;" in metrics
    assert "alias var/staticfiles/;" in _block(text, "/static/")
    assert re.search(r"upstream asgi \{[^}]*server 127\.0\.0\.1:\d+", text)


def test_every_proxied_location_passes_the_client_headers():
    """nginx inherits the server's proxy_set_header lines only into a location that sets none of its own: a location
    that sets Connection must repeat Host (else gunicorn answers 400 DisallowedHost) and the forwarding headers (else
    every client shares nginx's address in the login throttles)."""
    text = CONF.read_text()
    tls_server = text[text.index("listen 443") :]
    locations = re.findall(r"^\s*location\s+([^{\n]+?)\s*\{(.*?)\n\s*\}", tls_server, re.S | re.M)
    proxied = [(name, body) for name, body in locations if "proxy_pass" in body]
    assert {name for name, _ in proxied} >= {"/api/realtime/", "/api/ws", "/api/", "/admin/", "= /metrics", "/"}
    for name, body in proxied:
        if "proxy_set_header" not in body:
            continue  # inherits the server-level lines
        for line in (
            "proxy_set_header Host $host;",
            "proxy_set_header X-Real-IP $remote_addr;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
        ):
            assert line in body, f"location {name} lacks {line}"


def test_upstreams_match_the_readme():
    text = CONF.read_text()
    api = re.search(r"upstream api \{([^}]*)\}", text).group(1)
    assert re.findall(r"server (\S+)", api) == ["127.0.0.1:8101"]  # gunicorn -b 127.0.0.1:8101
    asgi = re.search(r"upstream asgi \{([^}]*)\}", text).group(1)
    assert re.findall(r"^\s*server (\S+)", asgi, re.M) == ["127.0.0.1:8001"]  # uvicorn --host 127.0.0.1 --port 8001


@pytest.mark.skipif(not servers.nginx_binary(), reason="nginx is not installed")
def test_nginx_accepts_the_config(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed for a throwaway certificate")
    conf = servers.nginx_config(tmp_path)
    proc = subprocess.run([*servers.nginx_command(conf, tmp_path), "-t"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr


HSTS_LINE = 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'


def _locations(text):
    """Every location block (nested ones too) as (name, its own directives without those of nested blocks)."""
    found, stack = [], []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            stack.append((line[:-1].strip(), []))
        elif line == "}":
            if not stack:  # the end of a block that opened before ``text`` began
                continue
            name, lines = stack.pop()
            if name.startswith("location"):
                found.append((name, lines))
        elif stack:
            stack[-1][1].append(line)
    return found


def test_hsts_is_sent_once_on_every_response():
    """One HSTS header, nginx's: the app's is hidden, and every location with add_header lines of its own (which stops
    nginx inheriting the server's) repeats it."""
    text = CONF.read_text()
    tls_server = text[text.index("listen 443") :]
    server_level = tls_server[: re.search(r"^\s*location\s", tls_server, re.M).start()]
    assert HSTS_LINE in server_level
    assert "proxy_hide_header Strict-Transport-Security;" in server_level
    for name, lines in _locations(tls_server):
        if any(line.startswith("add_header") for line in lines):
            assert HSTS_LINE in lines, f"{name} sets its own headers but not HSTS"


def test_static_cache_headers_are_set_once():
    """Hashed names (collectstatic's manifest storage) for a year, the rest revalidated; no `expires`, which would add
    a second Cache-Control."""
    static = {name: lines for name, lines in _locations(CONF.read_text()) if "static" in name or "[0-9a-f]{12}" in name}
    assert "expires" not in " ".join(" ".join(lines) for lines in static.values())
    assert 'add_header Cache-Control "no-cache";' in static["location /static/"]
    hashed = [lines for name, lines in static.items() if "[0-9a-f]{12}" in name]
    assert hashed == [['add_header Cache-Control "public, max-age=31536000, immutable";', HSTS_LINE]], static

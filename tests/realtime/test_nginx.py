"""nginx.conf is valid (nginx -t) and keeps the contract's real-time location blocks."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "nginx.conf"


def _block(text, location):
    match = re.search(r"location\s+" + re.escape(location) + r"\s*\{(.*?)\n\s*\}", text, re.S)
    assert match, f"no location {location}"
    return match.group(1)


def test_realtime_locations_follow_the_contract():
    text = CONF.read_text()
    sse = _block(text, "/api/realtime/")
    for line in ("proxy_http_version 1.1;", "proxy_set_header Connection '';", "proxy_buffering off;",
                 "proxy_cache off;", "proxy_read_timeout 24h;", "chunked_transfer_encoding off;",
                 "proxy_pass http://daphne;"):
        assert line in sse
    ws = _block(text, "/api/ws")
    for line in ("proxy_set_header Upgrade $http_upgrade;", 'proxy_set_header Connection "upgrade";',
                 "proxy_read_timeout 24h;", "proxy_send_timeout 24h;", "proxy_pass http://daphne;"):
        assert line in ws
    metrics = _block(text, "= /metrics")
    assert "deny all;" in metrics and "allow 127.0.0.1;" in metrics
    assert "alias var/staticfiles/;" in _block(text, "/static/")
    assert re.search(r"upstream daphne \{[^}]*server 127\.0\.0\.1:\d+", text)


@pytest.mark.skipif(not shutil.which("nginx"), reason="nginx is not installed")
def test_nginx_accepts_the_config(tmp_path):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is needed for a throwaway certificate")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    text = (CONF.read_text()
            .replace("/etc/ssl/amarktai/fullchain.pem", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/amarktai/privkey.pem", str(tmp_path / "key.pem"))
            .replace("/var/log/nginx/amarktai.access.log", str(tmp_path / "access.log")))
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    proc = subprocess.run(["nginx", "-t", "-p", f"{ROOT}/", "-c", str(conf),
                           "-g", f"pid {tmp_path / 'nginx.pid'}; error_log {tmp_path / 'error.log'};"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "test is successful" in proc.stderr

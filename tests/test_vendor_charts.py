"""The vendored Lightweight Charts (static/vendor/, written by scripts/vendor_charts.sh) is the pinned release, intact,
with its licence and attribution notice: the portal's charts load it from there, offline."""

import hashlib
import re

from tests.servers import ROOT

VENDOR = ROOT / "static" / "vendor"
BUILD = VENDOR / "lightweight-charts.standalone.production.js"


def _version_file():
    lines = (VENDOR / "lightweight-charts.VERSION").read_text().splitlines()
    return dict(line.split(" ", 1) for line in lines)


def test_vendored_build_matches_the_recorded_sha256_and_the_scripts_pinned_release():
    recorded = _version_file()
    assert hashlib.sha256(BUILD.read_bytes()).hexdigest() == recorded["sha256"]
    script = (ROOT / "scripts" / "vendor_charts.sh").read_text()
    assert re.search(r'^VERSION="([^"]+)"', script, re.M).group(1) == recorded["lightweight-charts"]
    assert re.search(r'^INTEGRITY="([^"]+)"', script, re.M).group(1) == recorded["integrity"]
    assert f"Lightweight Charts\u2122 v{recorded['lightweight-charts']}" in BUILD.read_text()[:300]


def test_licence_and_notice_are_vendored_with_it():
    assert "Apache License" in (VENDOR / "lightweight-charts.LICENSE").read_text()
    notice = (VENDOR / "lightweight-charts.NOTICE").read_text()
    assert "TradingView" in notice and "https://www.tradingview.com/" in notice

#!/bin/sh
# Vendor TradingView's Lightweight Charts (Apache-2.0) into static/vendor/: the standalone production build (it defines
# window.LightweightCharts) and its LICENSE, from the npm registry. Run it to update; commit both files.
set -eu
VERSION="${1:-5}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "lightweight-charts@$VERSION" >/dev/null
tar -xzf lightweight-charts-*.tgz
mkdir -p "$ROOT/static/vendor"
cp package/dist/lightweight-charts.standalone.production.js "$ROOT/static/vendor/lightweight-charts.standalone.production.js"
cp package/LICENSE "$ROOT/static/vendor/lightweight-charts.LICENSE"
node -e 'console.log("lightweight-charts " + require("./package/package.json").version)' > "$ROOT/static/vendor/lightweight-charts.VERSION"
cat "$ROOT/static/vendor/lightweight-charts.VERSION"

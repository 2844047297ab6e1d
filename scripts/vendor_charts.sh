#!/bin/sh
# Vendor TradingView's Lightweight Charts (Apache-2.0) into static/vendor/ from the npm registry, with plain curl + tar
# (no node, no npm): the standalone production build (it defines window.LightweightCharts), its LICENSE, a NOTICE with
# the library's attribution notice, and a VERSION file with the sha256 of the vendored build.
#
# The version and the tarball's integrity are pinned here. The script checks that the registry still announces that
# integrity for that version (dist.integrity, a sha512) and that the downloaded tarball has it, then copies the files.
# The vendored files are committed, so `make run` and the browser tests work offline; tests/test_vendor_charts.py
# checks the committed build against the sha256 in lightweight-charts.VERSION.
#
# To update: set VERSION and INTEGRITY to the new release's (curl -s https://registry.npmjs.org/lightweight-charts/<v>
# shows dist.integrity), run `scripts/vendor_charts.sh`, look at the charts (Research, Markets, a bot's page, the
# dashboard) and commit static/vendor/lightweight-charts.*.
# `scripts/vendor_charts.sh --check` only verifies the committed build against the VERSION file.
set -eu

VERSION="5.2.1"
INTEGRITY="sha512-IVwoK1RLFiLPubaKIjNbtjWLnpPMqiABSrTay6whmNa8L1+19292VtHJ+BWyPUuLCwF0tcQlhEWd1CLB2a1nsQ=="
REGISTRY="${NPM_REGISTRY:-https://registry.npmjs.org}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/static/vendor"
BUILD="lightweight-charts.standalone.production.js"

die() { echo "vendor_charts: $*" >&2; exit 1; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [ "${1:-}" = "--check" ]; then
  want="$(sed -n 's/^sha256 //p' "$DEST/lightweight-charts.VERSION")"
  [ -n "$want" ] || die "no sha256 line in $DEST/lightweight-charts.VERSION"
  [ "$(sha256 "$DEST/$BUILD")" = "$want" ] || die "$DEST/$BUILD does not match the sha256 in lightweight-charts.VERSION"
  echo "static/vendor/$BUILD: ok ($(head -1 "$DEST/lightweight-charts.VERSION"))"
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# What the registry says about this version: its dist.integrity must be the pinned one.
curl -fsSL "$REGISTRY/lightweight-charts/$VERSION" -o meta.json || die "cannot read $REGISTRY/lightweight-charts/$VERSION"
announced="$(tr ',' '\n' < meta.json | sed -n 's/.*"integrity" *: *"\([^"]*\)".*/\1/p' | head -1)"
tarball="$(tr ',' '\n' < meta.json | sed -n 's/.*"tarball" *: *"\([^"]*\)".*/\1/p' | head -1)"
[ "$announced" = "$INTEGRITY" ] || die "the registry announces integrity '$announced' for $VERSION, pinned is '$INTEGRITY'"
[ -n "$tarball" ] || die "no dist.tarball in the registry's answer"

curl -fsSL "$tarball" -o package.tgz || die "cannot download $tarball"
got="sha512-$(openssl dgst -sha512 -binary package.tgz | base64 | tr -d '\n')"
[ "$got" = "$INTEGRITY" ] || die "the downloaded tarball has integrity '$got', expected '$INTEGRITY'"

tar -xzf package.tgz package/LICENSE "package/dist/$BUILD"
head -c 400 "package/dist/$BUILD" | grep -q "Lightweight Charts.* v$VERSION" || die "the build does not say it is v$VERSION"

mkdir -p "$DEST"
cp "package/dist/$BUILD" "$DEST/$BUILD"
cp package/LICENSE "$DEST/lightweight-charts.LICENSE"
# The npm package has no NOTICE file: the attribution notice is the build's own @license header, kept here with the
# link to TradingView that its licence asks for (the charts also show TradingView's attribution logo).
{
  echo "TradingView Lightweight Charts(TM) v$VERSION"
  sed -n '2,5p' "package/dist/$BUILD" | sed -n 's/^ \* \{0,1\}//p' | grep -v '^@license' | grep -v "Lightweight Charts"
  echo "https://www.tradingview.com/"
  echo
  echo "Vendored from $tarball"
  echo "by scripts/vendor_charts.sh (integrity $INTEGRITY)."
} > "$DEST/lightweight-charts.NOTICE"
{
  echo "lightweight-charts $VERSION"
  echo "integrity $INTEGRITY"
  echo "sha256 $(sha256 "$DEST/$BUILD")"
} > "$DEST/lightweight-charts.VERSION"
cat "$DEST/lightweight-charts.VERSION"

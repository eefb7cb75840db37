#!/usr/bin/env bash
# Renders the HTML report in a real browser: builds `modecollapse report --models local --models
# local@parallel2` from the committed recordings (two versions, so the trend figures are drawn
# and checked too), opens it in headless Chromium (Debian's package, installed when missing),
# fails on any console message (the page has no script, so any message is a fault) or on a DOM
# that lacks a figure the report wrote, and saves screenshots for a person to look at: the top
# of the page, and the trend figures (report/screenshot-trend.png).
#
#   scripts/check-report.sh [OUT]     # OUT defaults to report/ (gitignored)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-report}"
started=$SECONDS

if ! command -v chromium >/dev/null 2>&1; then
    echo "check-report: installing Debian's chromium"
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
    "${as_root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
fi

cargo run -q -- report --models local --models local@parallel2 --out "$out"
page="$(realpath "$out/index.html")"
screenshot="$out/screenshot.png"
rm -f "$screenshot"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# Without the background-networking flags Chromium tries to reach Google's hosts at every start,
# which this machine's closed network refuses; a fresh profile keeps runs independent.
flags=(--headless --disable-gpu --no-sandbox --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --hide-scrollbars --user-data-dir="$scratch/profile")

timeout 120 chromium "${flags[@]}" --enable-logging=stderr --v=0 --window-size=1400,3000 \
    --screenshot="$screenshot" "file://$page" >"$scratch/stdout" 2>"$scratch/log"
if grep -F ':CONSOLE' "$scratch/log"; then
    echo "check-report: FAILED: the page logged to the console (above)" >&2
    exit 1
fi
if [ ! -s "$screenshot" ]; then
    echo "check-report: FAILED: no screenshot was written; Chromium said:" >&2
    cat "$scratch/log" >&2
    exit 1
fi

timeout 120 chromium "${flags[@]}" --dump-dom "file://$page" >"$scratch/dom.html" 2>/dev/null
figures=$(find "$out/figures" -name '*.svg' | wc -l)
rendered=$(grep -o '<svg ' "$scratch/dom.html" | wc -l)
if [ "$figures" -eq 0 ] || [ "$rendered" -ne "$figures" ]; then
    echo "check-report: FAILED: $figures figure files but $rendered inline <svg> in the DOM" >&2
    exit 1
fi
# Every figure link resolves to a file beside the page.
grep -o 'href="figures/[^"]*"' "$scratch/dom.html" | sed 's/^href="//; s/"$//' | sort -u |
    while read -r link; do
        if [ ! -f "$out/$link" ]; then
            echo "check-report: FAILED: the page links $link, which is missing" >&2
            exit 1
        fi
    done

trends=$(find "$out/figures" -name '*--trend.svg' | wc -l)
if [ "$trends" -eq 0 ]; then
    echo "check-report: FAILED: no trend figure across the two versions" >&2
    exit 1
fi
# The trends sit far down the page, below the first screenshot: a second one shows them in the
# page's own layout, with everything but the claims' headings, their trends and the trend
# summary hidden by an added style rule (the page itself is not changed).
trend_screenshot="$out/screenshot-trend.png"
rm -f "$trend_screenshot"
sed 's|</style>|header, #not-testable, section.model-set, dl.facts, blockquote, footer { display: none; }\n</style>|' \
    "$page" >"$scratch/trend.html"
timeout 120 chromium "${flags[@]}" --window-size=1400,3000 --screenshot="$trend_screenshot" \
    "file://$scratch/trend.html" >/dev/null 2>&1
if [ ! -s "$trend_screenshot" ]; then
    echo "check-report: FAILED: no screenshot of the trends was written" >&2
    exit 1
fi

echo "check-report: ok: $rendered figures rendered ($trends trends), no console message," \
     "screenshots $screenshot and $trend_screenshot ($((SECONDS - started)) s)"

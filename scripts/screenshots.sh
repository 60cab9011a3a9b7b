#!/usr/bin/env bash
# Makes the README's dashboard screenshots (docs/dashboard-list.png, docs/dashboard-job.png,
# docs/dashboard-phone.png) with the headless Chromium of the browser tests: the queue/screenshot
# test of tests/dashboard_browser.rs, told to write into docs/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-browser.sh
TESTJOB_SCREENSHOTS_DIR=docs cargo test -p testjob-operator --test dashboard_browser \
  the_queue_view_shows_start_order_live_and_screenshots_are_made
ls -l docs/dashboard-*.png

#!/usr/bin/env bash
# The project's test command (README): installs the pinned tools, then checks formatting and
# lints and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-tools.sh
bash scripts/install-browser.sh # chromium + chromedriver for tests/dashboard_browser.rs
export TESTJOB_KUBECTL="$PWD/.tools/bin/kubectl"
export TESTJOB_HELM="$PWD/.tools/bin/helm"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast
# The image's build, replayed without a container engine, and hadolint on the Dockerfile.
python3 scripts/check-dockerfile.py

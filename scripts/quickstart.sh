#!/usr/bin/env bash
# The quickstart (README): installs the pinned kubectl and helm, builds the operator, and starts
# an in-memory cluster with the TestJob CRD, the controller and the example TestJobs. It runs in
# the foreground until Ctrl-C; use kubectl from another terminal as it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-tools.sh
cargo build --release --bin testjob-operator
# Wherever cargo builds (CARGO_TARGET_DIR, a workspace's target directory, …).
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
echo
echo "kubectl and helm are in $PWD/.tools/bin (export PATH=\"$PWD/.tools/bin:\$PATH\")"
exec "$target_dir/release/testjob-operator" sandbox \
  --kubeconfig .sandbox/kubeconfig \
  --apply examples/minimal.yaml \
  --apply examples/steps.yaml \
  --apply examples/failing.yaml

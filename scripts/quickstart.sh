#!/usr/bin/env bash
# The quickstart (README): installs the pinned kubectl and helm, builds the operator, and starts
# an in-memory cluster with the TestJob CRD, the controller and the example TestJobs. It runs in
# the foreground until Ctrl-C; use kubectl from another terminal as it prints.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-tools.sh
cargo build --release --bin testjob-operator
echo
echo "kubectl and helm are in $PWD/.tools/bin (export PATH=\"$PWD/.tools/bin:\$PATH\")"
exec target/release/testjob-operator sandbox \
  --kubeconfig .sandbox/kubeconfig \
  --apply examples/minimal.yaml \
  --apply examples/steps.yaml \
  --apply examples/failing.yaml

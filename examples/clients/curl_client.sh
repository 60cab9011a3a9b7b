#!/bin/sh
# Schedule a TestJob with nothing but curl against the raw REST API, then watch it (watch=1, no
# polling) until its phase is final; print the phase and summary and exit like
# `kubectl testjob run --wait`: 0 passed, 1 tests failed, 2 could not run, 3 cancelled.
# Needs sh, curl and python3 (for JSON).
#
#   K8S_SERVER=https://… K8S_TOKEN=… K8S_CA_FILE=ca.crt K8S_NAMESPACE=ci sh curl_client.sh TEST_ID [COMMAND...]
#
# With a COMMAND the runner runs it, else the operator's default runner runs.
# In a Pod: K8S_SERVER=https://kubernetes.default.svc, the token and ca.crt from
# /var/run/secrets/kubernetes.io/serviceaccount/. The token needs create, get, list and watch on
# testjobs.testjob.dev.
set -eu

test_id=${1:?usage: curl_client.sh TEST_ID [COMMAND...]}
shift
: "${K8S_SERVER:?set K8S_SERVER}" "${K8S_TOKEN:?set K8S_TOKEN}"
namespace=${K8S_NAMESPACE:-default}
collection="$K8S_SERVER/apis/testjob.dev/v1alpha1/namespaces/$namespace/testjobs"

# Always called in a subshell ($(api …) or api … &): `exec` makes that subshell curl itself, so
# that $! below is curl's pid and killing it ends the watch (killing a subshell would leave curl
# streaming until the server's timeout).
api() {
  exec curl --silent --show-error --fail-with-body ${K8S_CA_FILE:+--cacert "$K8S_CA_FILE"} \
    -H "Authorization: Bearer $K8S_TOKEN" -H "Accept: application/json" "$@"
}

# An integer test id stays an integer, anything else is a JSON string.
body=$(python3 -c '
import json, sys
test_id, command = sys.argv[1], sys.argv[2:]
spec = {"testId": int(test_id) if test_id.isdigit() else test_id}
if command:
    spec["runner"] = {"command": command}
print(json.dumps({
    "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
    "metadata": {"generateName": "curl-test-"},
    "spec": spec,
}))' "$test_id" "$@")

created=$(api -X POST -H "Content-Type: application/json" --data "$body" "$collection")
name=$(printf '%s' "$created" | python3 -c 'import json, sys; print(json.load(sys.stdin)["metadata"]["name"])')
echo "created testjob $name"

# Reads watch events (one JSON object per line) until the phase is final; exits 4 when the
# server ends the watch first, so the loop below watches again.
reader='
import json, sys
final = ("Succeeded", "Failed", "Cancelled")
for line in sys.stdin:
    event = json.loads(line)
    if "type" not in event:  # a Status: the watch was refused
        print("error:", event.get("message", line.strip()), file=sys.stderr)
        sys.exit(2)
    if event["type"] == "ERROR":
        print("watch error:", event["object"].get("message"), file=sys.stderr)
        sys.exit(4)
    if event["type"] == "DELETED":
        print("error: the testjob was deleted", file=sys.stderr)
        sys.exit(2)
    status = event["object"].get("status", {})
    phase = status.get("phase")
    if phase not in final:
        continue
    wanted = {"Succeeded": "Complete"}.get(phase, phase)
    reason = next((c.get("reason", "") for c in status.get("conditions", [])
                   if c["type"] == wanted and c["status"] == "True"), "")
    s = status.get("summary") or {"total": 0, "passed": 0, "failed": 0, "skipped": 0}
    print("phase:", phase)
    print("summary: %d/%d passed, %d failed, %d skipped (%s)"
          % (s["passed"], s["total"], s["failed"], s["skipped"], reason))
    sys.exit({"Succeeded": 0, "Cancelled": 3}.get(phase, 1 if reason == "TestsFailed" else 2))
sys.exit(4)
'

# The reader decides; curl goes on streaming into a FIFO until it is stopped.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/events"
while :; do
  api -N "$collection?watch=1&fieldSelector=metadata.name%3D$name&timeoutSeconds=300" >"$dir/events" &
  curl_pid=$!
  code=0
  python3 -c "$reader" <"$dir/events" || code=$?
  kill "$curl_pid" 2>/dev/null || true
  wait "$curl_pid" 2>/dev/null || true
  [ "$code" -eq 4 ] || exit "$code"
done

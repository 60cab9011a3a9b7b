#!/usr/bin/env python3
"""Schedule a TestJob from an app with the official Kubernetes Python client, watch it until it
ends (a watch, no polling), print its results and its runner's log, and exit like
`kubectl testjob run --wait`: 0 passed, 1 tests failed, 2 could not run, 3 cancelled.

    pip install kubernetes
    python3 python_client.py TEST_ID [COMMAND...]

The connection comes from the environment when K8S_SERVER is set (K8S_SERVER, K8S_TOKEN,
K8S_CA_FILE, K8S_NAMESPACE: e.g. a ServiceAccount token), else from the kubeconfig
($KUBECONFIG or ~/.kube/config), else from the in-cluster service account. With a COMMAND the
runner runs it (`sh -c "..."` style lists work), else the operator's default runner runs.
"""

import os
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "testjob.dev", "v1alpha1", "testjobs"
FINAL = ("Succeeded", "Failed", "Cancelled")


def connect():
    """An ApiClient and the namespace to work in."""
    server = os.environ.get("K8S_SERVER")
    if server:
        configuration = client.Configuration()
        configuration.host = server
        configuration.ssl_ca_cert = os.environ.get("K8S_CA_FILE")
        configuration.api_key = {"authorization": "Bearer " + os.environ["K8S_TOKEN"]}
        return client.ApiClient(configuration), os.environ.get("K8S_NAMESPACE", "default")
    try:
        config.load_kube_config()
        _, context = config.list_kube_config_contexts()
        namespace = context["context"].get("namespace", "default")
    except config.ConfigException:
        config.load_incluster_config()
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            namespace = f.read().strip()
    return client.ApiClient(), os.environ.get("K8S_NAMESPACE", namespace)


def schedule(api, namespace, test_id, command):
    """Creates a TestJob (a new name each time, through generateName) and returns its name."""
    spec = {"testId": int(test_id) if test_id.isdigit() else test_id}
    if command:
        spec["runner"] = {"command": command}
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TestJob",
        "metadata": {"generateName": "app-test-", "labels": {"app.kubernetes.io/created-by": "python-client"}},
        "spec": spec,
    }
    created = api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    return created["metadata"]["name"]


def wait_until_final(api, namespace, name):
    """Watches the TestJob until its phase is final; re-watches when the server ends a watch."""
    resource_version = None
    while True:
        stream = watch.Watch().stream(
            api.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            timeout_seconds=300,
        )
        try:
            for event in stream:
                job = event["object"]
                if event["type"] == "DELETED":
                    sys.exit(f"error: testjob {name} was deleted before it finished")
                resource_version = job["metadata"]["resourceVersion"]
                if job.get("status", {}).get("phase") in FINAL:
                    return job
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the version is too old, start afresh
                raise
            resource_version = None


def reason(status):
    """The reason of the final phase: its condition's, else the last attempt's."""
    wanted = {"Succeeded": "Complete"}.get(status.get("phase"), status.get("phase"))
    for condition in status.get("conditions", []):
        if condition["type"] == wanted and condition["status"] == "True":
            return condition.get("reason", "")
    attempts = status.get("attempts", [])
    return attempts[-1].get("reason", "") if attempts else ""


def exit_code(status):
    phase = status.get("phase")
    if phase == "Succeeded":
        return 0
    if phase == "Cancelled":
        return 3
    return 1 if reason(status) == "TestsFailed" else 2


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    test_id, command = sys.argv[1], sys.argv[2:]
    api_client, namespace = connect()
    custom = client.CustomObjectsApi(api_client)
    name = schedule(custom, namespace, test_id, command)
    print(f"scheduled testjob {name} in {namespace}")
    status = wait_until_final(custom, namespace, name).get("status", {})

    # Failures first, then the summary line.
    results = sorted(status.get("results", []), key=lambda r: r["status"] not in ("failed", "error"))
    for result in results:
        print(f"{result['status']:8} {result['name']}  {result.get('message', '')}".rstrip())
    summary = status.get("summary") or {"total": 0, "passed": 0, "failed": 0, "skipped": 0}
    print(f"{summary['passed']}/{summary['total']} passed, {summary['failed']} failed, "
          f"{summary['skipped']} skipped ({reason(status)})")
    print(f"{status.get('phase')}: {status.get('message', '')}")

    # The runner's log (the Pod of the last attempt; pods/log needs `get` on pods/log).
    pod = status.get("podName")
    if pod:
        try:
            log = client.CoreV1Api(api_client).read_namespaced_pod_log(pod, namespace, container="runner")
            print(f"--- log of {pod}")
            print(log, end="" if log.endswith("\n") else "\n")
        except ApiException as error:
            print(f"(no log of {pod}: {error.status} {error.reason})", file=sys.stderr)
    sys.exit(exit_code(status))


if __name__ == "__main__":
    main()

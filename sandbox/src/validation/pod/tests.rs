use serde_json::json;

use super::*;

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(ToString::to_string).collect()
}

/// A defaulted, valid spec (what `default_pod` leaves).
fn base() -> Value {
    json!({
        "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
        "containers": [{"name": "app", "image": "busybox", "terminationMessagePolicy": "File",
                        "imagePullPolicy": "Always", "resources": {}}],
    })
}

// validation.go:
//   validateContainers: if len(containers) == 0 { return append(allErrs, field.Required(fldPath, "")) }
//   validateContainerCommon: allErrs = append(allErrs, ValidateDNS1123Label(ctr.Name, namePath)...)
//                            if len(ctr.Image) == 0 { field.Required(path.Child("image"), "") }
//   validateRestartPolicy: field.NotSupported(fldPath, *restartPolicy, validValues)
#[test]
fn the_common_mistakes_get_kube_apiservers_errors() {
    assert!(spec(&base()).is_empty());
    let mut s = base();
    s["containers"] = json!([]);
    assert_eq!(messages(&spec(&s)), ["spec.containers: Required value"]);
    let mut s = base();
    s["containers"][0]["name"] = json!("Bad_Name");
    s["containers"][0]["image"] = json!("");
    s["restartPolicy"] = json!("Sometimes");
    assert_eq!(
        messages(&spec(&s)),
        [
            "spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.containers[0].image: Required value",
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ]
    );
}

#[test]
fn ports_env_and_resources_are_checked() {
    let mut s = base();
    let c = &mut s["containers"][0];
    c["ports"] = json!([
        {"containerPort": 70000, "protocol": "TCP", "name": "web"},
        {"containerPort": 0, "protocol": "HTTP", "name": "web"},
    ]);
    c["env"] = json!([{"name": "A=B"}, {"name": ""}, {"name": "ok.name-1"}]);
    c["resources"] = json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2", "memory": "-1"}});
    assert_eq!(
        messages(&spec(&s)),
        [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].name: Duplicate value: \"web\"",
            "spec.containers[0].ports[1].containerPort: Required value",
            "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].env[1].name: Required value",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
        ]
    );
}

#[test]
fn volumes_and_mounts_are_checked() {
    let mut s = base();
    s["volumes"] = json!([
        {"name": "data", "emptyDir": {}},
        {"name": "Two", "emptyDir": {}, "configMap": {"name": "x"}},
        {"name": "none"},
        {"name": "data", "hostPath": {"path": ""}},
    ]);
    s["containers"][0]["volumeMounts"] = json!([
        {"name": "data", "mountPath": "/d"},
        {"name": "missing", "mountPath": "/d"},
        {"name": "", "mountPath": ""},
    ]);
    assert_eq!(
        messages(&spec(&s)),
        [
            "spec.volumes[1].configMap: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1].name: Invalid value: \"Two\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            "spec.volumes[2]: Required value: must specify a volume type",
            "spec.volumes[3].hostPath.path: Required value",
            "spec.volumes[3].name: Duplicate value: \"data\"",
            "spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
            "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/d\": must be unique",
            "spec.containers[0].volumeMounts[2].name: Required value",
            "spec.containers[0].volumeMounts[2].name: Not found: \"\"",
            "spec.containers[0].volumeMounts[2].mountPath: Required value",
        ]
    );
}

#[test]
fn probes_init_containers_and_seccomp_are_checked() {
    let mut s = base();
    s["containers"][0]["livenessProbe"] = json!({"successThreshold": 2, "timeoutSeconds": 1,
        "periodSeconds": 10, "failureThreshold": 3,
        "httpGet": {"path": "/", "port": 0, "scheme": "FTP"}, "exec": {"command": ["x"]}});
    s["containers"][0]["securityContext"] = json!({"seccompProfile": {"type": "Strict"}});
    s["initContainers"] = json!([
        {"name": "app", "image": "i", "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
         "readinessProbe": {"exec": {"command": ["x"]}}},
        {"name": "side", "image": "i", "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
         "restartPolicy": "Never"},
        {"name": "ok-sidecar", "image": "i", "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
         "restartPolicy": "Always", "startupProbe": {"tcpSocket": {"port": "http"}, "successThreshold": 1}},
    ]);
    assert_eq!(
        messages(&spec(&s)),
        [
            "spec.containers[0].securityContext.seccompProfile.type: Unsupported value: \"Strict\": supported values: \"Localhost\", \"RuntimeDefault\", \"Unconfined\"",
            "spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.initContainers[0].name: Duplicate value: \"app\"",
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            "spec.initContainers[1].restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
        ]
    );
}

// validateLifecycle → validateHandler (exec, httpGet, tcpSocket, sleep); validateSleepAction.
#[test]
fn lifecycle_hooks_have_exactly_one_handler() {
    let mut s = base();
    s["containers"][0]["lifecycle"] = json!({
        "postStart": {"exec": {"command": []}},
        "preStop": {"exec": {"command": ["x"]}, "sleep": {"seconds": 5}},
    });
    s["initContainers"] = json!([
        {"name": "side", "image": "i", "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
         "restartPolicy": "Always", "lifecycle": {"postStart": {}}},
        {"name": "ok", "image": "i", "terminationMessagePolicy": "File", "imagePullPolicy": "Always",
         "restartPolicy": "Always", "lifecycle": {"postStart": {"exec": {"command": ["wait"]}},
                                                  "preStop": {"sleep": {"seconds": -1}}}},
    ]);
    assert_eq!(
        messages(&spec(&s)),
        [
            "spec.containers[0].lifecycle.postStart.exec.command: Required value",
            "spec.containers[0].lifecycle.preStop.sleep: Forbidden: may not specify more than 1 handler type",
            "spec.initContainers[0].lifecycle.postStart: Required value: must specify a handler type",
            "spec.initContainers[1].lifecycle.preStop.sleep.seconds: Invalid value: -1: must be non-negative",
        ]
    );
}

#[test]
fn bad_quantities_fail_decoding() {
    let mut s = base();
    s["containers"][0]["resources"] = json!({"limits": {"cpu": "lots"}});
    assert_eq!(
        decode_errors(&s),
        Some(DecodeError(quantity::FORMAT_WRONG.to_string()))
    );
    assert_eq!(decode_errors(&base()), None);
}

// ValidatePodUpdate: field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other
// than %s\n%v", strings.Join(updatablePodSpecFields, ","), specDiff)); ValidateContainerUpdates.
#[test]
fn updates_may_change_only_images_deadlines_and_tolerations() {
    let old = base();
    let mut new = base();
    new["containers"][0]["image"] = json!("busybox:2");
    new["activeDeadlineSeconds"] = json!(10);
    new["tolerations"] = json!([{"key": "k", "operator": "Exists"}]);
    assert!(update(&old, &new).is_empty());
    let mut changed = base();
    changed["restartPolicy"] = json!("Never");
    assert_eq!(
        messages(&update(&old, &changed)),
        [
            "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
        ]
    );
    let mut more = base();
    more["containers"] = json!([old["containers"][0], old["containers"][0]]);
    assert_eq!(
        messages(&update(&old, &more)),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"]
    );
    let mut raised = new.clone();
    raised["activeDeadlineSeconds"] = json!(20);
    assert_eq!(
        messages(&update(&new, &raised)),
        [
            "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
        ]
    );
    assert_eq!(
        messages(&update(&new, &old)),
        [
            "spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value"
        ]
    );
}

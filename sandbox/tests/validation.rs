//! Validation of what clients write, against the real kubectl (the pinned 1.35 and the machine's
//! 1.32) and a raw client: 422 bodies and kubectl's words compared with kube-apiserver's.
//!
//! The Go sources the expectations were checked against (Kubernetes 1.35):
//! - apimachinery pkg/api/validate/content/kube.go `IsLabelKey`:
//!   `errs = append(errs, "name part "+RegexError(labelKeyErrMsg, labelKeyFmt, "MyName", "my.name", "123-abc"))`
//!   and, for more than one '/': `"a valid label key "+RegexError(...)+" with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"`
//! - apimachinery pkg/util/validation/validation.go `RegexError`: `msg += "'" + examples[i] + "', "`,
//!   joined by `" or "` (hence the double spaces); `IsDNS1123Subdomain`, `IsDNS1123Label`.
//! - pkg/apis/core/validation/validation.go: `validateContainers`
//!   `if len(containers) == 0 { return append(allErrs, field.Required(fldPath, "")) }`,
//!   `validateContainerCommon` `ValidateDNS1123Label(ctr.Name, namePath)` and
//!   `if len(ctr.Image) == 0 { field.Required(path.Child("image"), "") }`, `validateRestartPolicy`
//!   `field.NotSupported(fldPath, *restartPolicy, validValues)`, `ValidatePodUpdate`
//!   `field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v", strings.Join(updatablePodSpecFields, ","), specDiff))`.
//! - apiserver pkg/registry/rest/update.go `BeforeUpdate`: `validateCommonFields` (metadata, then
//!   metadata update rules) before `strategy.ValidateUpdate`, so an update's metadata errors come
//!   once from each; kubectl (`cmd/util/helpers.go` `MultilineError`) prints one cause bare and
//!   several as `* <cause>` lines.

mod common;

use common::{Kubectl, Server, kubectls};
use serde_json::{Value, json};

const LABEL_NAME_PART: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_1123: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const RESTART_POLICY: &str = "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"";
const POD_UPDATE: &str = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn pod(name: &str, spec: Value) -> String {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}).to_string()
}

fn refused(k: &Kubectl, args: &[&str], stdin: Option<&str>) -> String {
    let run = match stdin {
        Some(input) => k.run_stdin(args, input),
        None => k.run(args),
    };
    assert!(!run.ok, "kubectl {args:?} was accepted: {run:?}");
    run.stderr
}

fn scenarios(k: &Kubectl, n: usize) {
    let cm = format!("c{n}");
    k.ok(&["create", "configmap", &cm]);

    // A label key with a space: refused, and the label is not stored. The update reports it
    // from `ValidateObjectMetaAccessor`, `ValidateObjectMetaAccessorUpdate` (both in
    // validateCommonFields) and `ValidateConfigMapUpdate` (its metadata update and
    // `ValidateConfigMap`): four identical causes, which kubectl prints once.
    let label = format!("metadata.labels: Invalid value: \"bad key!\": {LABEL_NAME_PART}");
    let err = refused(k, &["label", "cm", &cm, "bad key!=x"], None);
    assert_eq!(
        err,
        format!("The ConfigMap \"{cm}\" is invalid: {label}\n"),
        "{}",
        k.bin.display()
    );
    let labels = k.ok(&["get", "cm", &cm, "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, "");

    // An annotation key with two slashes.
    let err = refused(k, &["annotate", "cm", &cm, "a/b/c=x"], None);
    let anno = "metadata.annotations: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
    assert_eq!(err, format!("The ConfigMap \"{cm}\" is invalid: {anno}\n"));

    // A name that is no DNS subdomain: one cause on create. `kubectl create configmap` prints
    // the Status message itself (`failed to create configmap: %v`).
    let bad = format!("Bad_Name{n}");
    let err = refused(k, &["create", "configmap", &bad], None);
    assert_eq!(
        err,
        format!(
            "error: failed to create configmap: ConfigMap \"{bad}\" is invalid: metadata.name: Invalid value: \"{bad}\": {SUBDOMAIN}\n"
        )
    );

    // The Pod mistakes clients commonly make.
    let p = format!("p{n}");
    let manifest = pod(
        &p,
        json!({"restartPolicy": "Sometimes", "containers": [{"name": "Bad_Name", "image": ""}]}),
    );
    let err = refused(k, &["create", "-f", "-"], Some(&manifest));
    assert_eq!(
        err,
        format!(
            "The Pod \"{p}\" is invalid: \n* spec.containers[0].name: Invalid value: \"Bad_Name\": {LABEL_1123}\n* spec.containers[0].image: Required value\n* {RESTART_POLICY}\n"
        )
    );
    let q = format!("q{n}");
    let err = refused(
        k,
        &["apply", "-f", "-"],
        Some(&pod(&q, json!({"containers": []}))),
    );
    assert_eq!(
        err,
        format!("The Pod \"{q}\" is invalid: spec.containers: Required value\n")
    );
    assert!(!k.run(&["get", "pod", &p]).ok && !k.run(&["get", "pod", &q]).ok);

    // A valid Pod: its image may change, its restart policy may not.
    let v = format!("v{n}");
    let valid = pod(
        &v,
        json!({"containers": [{"name": "app", "image": "busybox"}]}),
    );
    let out = k.run_stdin(&["create", "-f", "-"], &valid);
    assert!(out.ok, "{out:?}");
    k.ok(&["set", "image", &format!("pod/{v}"), "app=busybox:1.36"]);
    let err = refused(
        k,
        &[
            "patch",
            "pod",
            &v,
            "-p",
            r#"{"spec":{"restartPolicy":"Never"}}"#,
        ],
        None,
    );
    // kube-apiserver appends "\n" and a cmp.Diff of the Go structs, which the sandbox does not.
    assert!(
        err.starts_with(&format!("The Pod \"{v}\" is invalid: {POD_UPDATE}")),
        "{err}"
    );
}

/// The raw 422 of a Pod create: `apierrors.NewInvalid` with one cause per field error.
async fn raw_status(server: &Server) {
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let body = pod(
        "raw",
        json!({"restartPolicy": "Sometimes", "containers": [{"name": "Bad_Name", "image": ""}]}),
    );
    let request = http::Request::post("/api/v1/namespaces/default/pods")
        .header("content-type", "application/json")
        .body(body.into_bytes())
        .expect("request");
    let err = client
        .request::<Value>(request)
        .await
        .expect_err("an invalid Pod is refused");
    let kube::Error::Api(status) = err else {
        panic!("not a Status: {err:?}");
    };
    assert_eq!(status.code, 422);
    let nameless = http::Request::post("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#.to_vec())
        .expect("request");
    match client.request::<Value>(nameless).await {
        // objectmeta.go: field.Required(fldPath.Child("name"), "name or generateName is required")
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (
                422,
                "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
            )
        ),
        other => panic!("a ConfigMap without a name: {other:?}"),
    }
    assert_eq!(status.reason, "Invalid");
    let name_cause = format!("spec.containers[0].name: Invalid value: \"Bad_Name\": {LABEL_1123}");
    assert_eq!(
        status.message,
        format!(
            "Pod \"raw\" is invalid: [{name_cause}, spec.containers[0].image: Required value, {RESTART_POLICY}]"
        )
    );
    let details = status.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("raw", "Pod")
    );
    let causes: Vec<(String, String, String)> = details
        .causes
        .iter()
        .map(|c| (c.reason.clone(), c.field.clone(), c.message.clone()))
        .collect();
    assert_eq!(
        causes,
        [
            (
                "FieldValueInvalid".to_string(),
                "spec.containers[0].name".to_string(),
                format!("Invalid value: \"Bad_Name\": {LABEL_1123}")
            ),
            (
                "FieldValueRequired".into(),
                "spec.containers[0].image".into(),
                "Required value".into()
            ),
            (
                "FieldValueNotSupported".into(),
                "spec.restartPolicy".into(),
                "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".into()
            ),
        ]
    );
}

#[test]
fn metadata_and_pods_are_validated_as_kube_apiserver_does() {
    let server = Server::start(&[]);
    for (n, bin) in kubectls().iter().enumerate() {
        scenarios(&server.kubectl(bin), n);
    }
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(raw_status(&server));
}

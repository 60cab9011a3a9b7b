//! The CRD's schema, CEL rules, printer columns and the checked-in YAML.

use super::*;
use kube::core::cel::validate_cel;

fn job(spec: serde_json::Value) -> TestJob {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": spec,
    }))
    .expect("valid TestJob JSON")
}

fn cel_errors(spec: serde_json::Value) -> Vec<String> {
    match validate_cel(&job(spec)) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

#[test]
fn checked_in_crd_matches_the_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/testjob.yaml");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    let generated = crd_yaml().expect("CRD renders");
    assert!(
        checked_in == generated,
        "crds/testjob.yaml is out of date with the Rust types.\n\
         Regenerate it with: cargo run -p testjob-operator -- crd > crds/testjob.yaml"
    );
}

#[test]
fn crd_names_columns_and_subresources() {
    let crd = TestJob::crd();
    assert_eq!(crd.metadata.name.as_deref(), Some("testjobs.testjob.dev"));
    assert_eq!(crd.spec.scope, "Namespaced");
    assert_eq!(crd.spec.names.short_names, Some(vec!["tj".to_owned()]));
    assert_eq!(crd.spec.names.categories, Some(vec!["testing".to_owned()]));
    let version = &crd.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    let columns: Vec<_> = version
        .additional_printer_columns
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.json_path.as_str()))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("Test", ".spec.testId"),
            ("Status", ".status.phase"),
            ("Result", ".status.result"),
            ("Duration", ".status.duration"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
}

#[test]
fn schema_is_structural_where_it_matters() {
    let crd = serde_json::to_value(TestJob::crd()).expect("CRD serializes");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["required"], serde_json::json!(["testId"]));
    let test_id = &spec["properties"]["testId"];
    assert_eq!(test_id["x-kubernetes-int-or-string"], true);
    assert!(test_id.get("anyOf").is_none() && test_id.get("type").is_none());
    let runner = &spec["properties"]["runner"]["properties"];
    assert_eq!(runner["image"]["minLength"], 1);
    assert_eq!(runner["podLabels"]["maxProperties"], 64);
    assert!(runner["serviceAccountName"]["pattern"].is_string());
    let phase = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        ["phase"];
    assert_eq!(
        phase["enum"],
        serde_json::json!(["Pending", "Running", "Succeeded", "Failed", "Cancelled"])
    );
}

#[test]
fn run_control_fields_are_bounded() {
    let crd = serde_json::to_value(TestJob::crd()).expect("CRD serializes");
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let field = |name: &str| &spec["properties"][name];
    let range = |name: &str| {
        (
            field(name)["minimum"].as_f64(),
            field(name)["maximum"].as_f64(),
        )
    };
    assert_eq!(range("timeoutSeconds"), (Some(1.0), Some(2_147_483_647.0)));
    assert_eq!(range("retries"), (Some(0.0), Some(10.0)));
    assert_eq!(range("ttlSecondsAfterFinished").0, Some(0.0));
    assert_eq!(field("priority")["type"], "integer");
    assert_eq!(field("cancel")["type"], "boolean");
    assert_eq!(
        field("podCleanup")["enum"],
        serde_json::json!(["Never", "OnSuccess", "Always"])
    );
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
    assert_eq!(
        status["properties"]["nextAttemptTime"]["format"],
        "date-time"
    );
}

#[test]
fn run_control_fields_round_trip() {
    let job = job(serde_json::json!({
        "testId": 1, "timeoutSeconds": 30, "retries": 2, "priority": -5, "cancel": true,
        "podCleanup": "Always", "ttlSecondsAfterFinished": 0
    }));
    assert_eq!(job.spec.timeout_seconds, Some(30));
    assert_eq!(job.spec.retries, Some(2));
    assert_eq!(job.spec.priority, Some(-5));
    assert!(job.spec.is_cancelled());
    assert_eq!(job.spec.pod_cleanup, Some(PodCleanup::Always));
    assert_eq!(job.spec.ttl_seconds_after_finished, Some(0));
    let plain = self::job(serde_json::json!({"testId": 1}));
    assert_eq!(plain.spec, TestJobSpec::new(1));
    assert!(!plain.spec.is_cancelled());
    // Unset fields stay out of what the controller writes back.
    let written = serde_json::to_value(&plain.spec).expect("serializes");
    assert_eq!(written, serde_json::json!({"testId": 1}));
}

#[test]
fn pod_cleanup_by_phase() {
    use PodCleanup::*;
    let deletes = |policy: PodCleanup| {
        [
            Phase::Succeeded,
            Phase::Failed,
            Phase::Cancelled,
            Phase::Running,
        ]
        .map(|phase| policy.deletes_after(phase))
    };
    assert_eq!(deletes(Never), [false, false, false, false]);
    assert_eq!(deletes(OnSuccess), [true, false, false, false]);
    assert_eq!(deletes(Always), [true, true, true, false]);
    assert_eq!(PodCleanup::default(), OnSuccess);
    assert_eq!("Always".parse::<PodCleanup>(), Ok(Always));
    assert!("always".parse::<PodCleanup>().is_err());
    assert_eq!(OnSuccess.to_string(), "OnSuccess");
}

#[test]
fn cancel_cannot_be_undone() {
    let cancelled = job(serde_json::json!({"testId": 1, "cancel": true}));
    let plain = job(serde_json::json!({"testId": 1}));
    let undo = |new: &TestJob| match kube::core::cel::validate_cel_update(new, &cancelled) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    };
    let errors = undo(&plain);
    assert!(
        errors.iter().any(|e| e.contains("cancel cannot be undone")),
        "{errors:?}"
    );
    let errors = undo(&job(serde_json::json!({"testId": 1, "cancel": false})));
    assert!(!errors.is_empty());
    assert!(undo(&cancelled).is_empty());
    // Setting it, or leaving it unset, is fine.
    assert!(kube::core::cel::validate_cel_update(&cancelled, &plain).is_ok());
    assert!(kube::core::cel::validate_cel_update(&plain, &plain).is_ok());
    assert!(validate_cel(&cancelled).is_ok());
}

#[test]
fn test_id_accepts_int_and_string() {
    assert_eq!(
        job(serde_json::json!({"testId": 220})).spec.test_id,
        TestId::Int(220)
    );
    assert_eq!(
        job(serde_json::json!({"testId": "checkout-flow"}))
            .spec
            .test_id,
        TestId::from("checkout-flow")
    );
    assert_eq!(TestId::Int(220).to_string(), "220");
    assert_eq!(
        serde_json::to_value(TestId::from("x")).expect("serializes"),
        serde_json::json!("x")
    );
}

#[test]
fn cel_accepts_good_specs() {
    assert!(cel_errors(serde_json::json!({"testId": 220})).is_empty());
    assert!(cel_errors(serde_json::json!({"testId": "checkout-flow"})).is_empty());
    let errors = cel_errors(serde_json::json!({
        "testId": "x",
        "runner": {
            "podLabels": {"team": "payments", "example.com/tier": "e2e", "empty": ""},
            "podAnnotations": {"example.com/note": "anything goes: here!"},
        }
    }));
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn cel_rejects_bad_test_ids() {
    let empty = cel_errors(serde_json::json!({"testId": ""}));
    assert!(
        empty.iter().any(|e| e.contains("testId must not be empty")),
        "{empty:?}"
    );
    let long = cel_errors(serde_json::json!({"testId": "x".repeat(254)}));
    assert!(long.iter().any(|e| e.contains("at most 253")), "{long:?}");
    assert!(cel_errors(serde_json::json!({"testId": "x".repeat(253)})).is_empty());
}

#[test]
fn cel_rejects_bad_label_and_annotation_keys() {
    let labels = cel_errors(serde_json::json!({
        "testId": 1,
        "runner": {"podLabels": {"bad key!": "v"}}
    }));
    assert!(
        labels.iter().any(|e| e.contains("label keys")),
        "{labels:?}"
    );
    let values = cel_errors(serde_json::json!({
        "testId": 1,
        "runner": {"podLabels": {"ok": "not a valid value"}}
    }));
    assert!(
        values.iter().any(|e| e.contains("label values")),
        "{values:?}"
    );
    let annotations = cel_errors(serde_json::json!({
        "testId": 1,
        "runner": {"podAnnotations": {"-leading-dash": "v"}}
    }));
    assert!(
        annotations.iter().any(|e| e.contains("annotation keys")),
        "{annotations:?}"
    );
}

#[test]
fn summary_counts_and_displays() {
    let result = |status| TestResult {
        name: "s".into(),
        status,
        duration_ms: None,
        message: None,
    };
    let results = [
        result(ResultStatus::Passed),
        result(ResultStatus::Passed),
        result(ResultStatus::Failed),
        result(ResultStatus::Error),
        result(ResultStatus::Skipped),
    ];
    let summary = Summary::of(&results);
    assert_eq!(
        summary,
        Summary {
            total: 5,
            passed: 2,
            failed: 2,
            skipped: 1
        }
    );
    assert_eq!(summary.display(), "2/5 passed");
}

/// The controller's cache holds a `TestJob` for every job not yet finished, tens of thousands in a
/// burst: the status and the runner spec are boxed so that a job without them (every job until
/// its first reconcile, most jobs' runner) costs a pointer each, not 480 and 272 bytes.
#[test]
fn a_job_without_status_or_runner_stays_small() {
    use std::mem::size_of;
    assert_eq!(size_of::<Option<Box<TestJobStatus>>>(), size_of::<usize>());
    assert_eq!(size_of::<Option<Box<RunnerSpec>>>(), size_of::<usize>());
    let meta = size_of::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>();
    assert!(
        size_of::<TestJob>() <= meta + 128,
        "TestJob is {} bytes inline, ObjectMeta {meta}",
        size_of::<TestJob>()
    );
}

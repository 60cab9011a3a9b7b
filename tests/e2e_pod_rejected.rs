//! The `PodRejected` path end to end: a TestJob whose runner fields the TestJob CRD accepts but
//! kube-apiserver's Pod validation refuses. The job must fail at once (no retry can help) with
//! reason `PodRejected` and a message carrying the API server's own words.
//!
//! The expected words are kube-apiserver's (pkg/apis/core/validation/validation.go):
//! - `ValidateEnv` with relaxed names: `field.Invalid(idxPath.Child("name"), ev.Name, msg)`, msg
//!   from apimachinery `IsRelaxedEnvVarName`: "a valid environment variable name must consist
//!   only of printable ASCII characters other than '='";
//! - `validateResourceRequirements`: `field.Invalid(reqPath, quantity.String(),
//!   fmt.Sprintf("must be less than or equal to %s limit of %s", resourceName, limitQuantity.String()))`.

mod common;

use serde_json::Value;
use testjob_operator::pod::pod_name;

use common::TestEnv;

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The runner fields the CRD lets through and the Pod validation refuses, with the cause the
/// API server names. The operator's own six variables come first, so the runner's is env[6].
const CASES: &[(&str, &str, &str)] = &[
    (
        "bad-env-name",
        r#"env: [{name: "MY=VAR", value: "x"}]"#,
        r#"spec.containers[0].env[6].name: Invalid value: "MY=VAR": a valid environment variable name must consist only of printable ASCII characters other than '='"#,
    ),
    (
        "request-over-limit",
        r#"resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}"#,
        r#"spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#,
    ),
];

#[tokio::test]
async fn runner_fields_the_pod_validation_refuses_fail_the_job_as_pod_rejected()
-> anyhow::Result<()> {
    let env = TestEnv::new("pod-rejected").await?;
    env.start_operator().await?;
    for (name, runner_field, _) in CASES {
        let manifest = format!(
            "apiVersion: testjob.dev/v1alpha1\nkind: TestJob\nmetadata:\n  name: {name}\nspec:\n  testId: {name}\n  runner:\n    image: busybox:1.37\n    command: [\"true\"]\n    {runner_field}\n"
        );
        // The CRD's schema accepts the job: only the Pod is invalid.
        env.apply_yaml(&manifest).await?;
    }
    let names: Vec<&str> = CASES.iter().map(|(name, _, _)| *name).collect();
    env.wait_for_phase("Failed", &names).await?;
    for (name, _, cause) in CASES {
        let job = env.job(name).await?;
        let pod = pod_name(name, 1);
        let failed = job["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Failed")
            .cloned()
            .unwrap_or_default();
        assert_eq!(str_at(&failed, "/status"), "True", "{job:#}");
        assert_eq!(str_at(&failed, "/reason"), "PodRejected", "{job:#}");
        assert_eq!(
            str_at(&job, "/status/message"),
            format!("the API server refused runner Pod {pod}: Pod \"{pod}\" is invalid: {cause}"),
            "{job:#}"
        );
        // One attempt: a refused Pod is not retried.
        assert_eq!(
            job["status"]["attempts"].as_array().map(Vec::len),
            Some(1),
            "{job:#}"
        );
        assert!(
            env.pods_of(name).await?.is_empty(),
            "no Pod was stored for {name}"
        );
    }
    Ok(())
}

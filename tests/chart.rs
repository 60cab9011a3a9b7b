//! The Helm chart without a cluster: lint, schema, rendering, and what it renders (RBAC without
//! wildcards, a restricted Pod, the CRD identical to `crds/testjob.yaml`). Installing it into the
//! sandbox under RBAC is `chart_install.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("charts/testjob-operator")
}

fn helm() -> PathBuf {
    testjob_testkit::tools::helm()
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn template(values: Option<&str>) -> String {
    let mut cmd = Command::new(helm());
    cmd.args(["template", "t", "--namespace", "testjob-system"])
        .arg(chart());
    if let Some(v) = values {
        cmd.arg("-f")
            .arg(root().join("tests/fixtures/chart").join(v));
    }
    let (ok, stdout, stderr) = run(&mut cmd);
    assert!(ok, "helm template failed: {stderr}");
    stdout
}

fn documents(rendered: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(rendered)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

#[test]
fn chart_crd_is_byte_identical_to_the_generated_one() {
    let generated = std::fs::read(root().join("crds/testjob.yaml")).expect("crds/testjob.yaml");
    let in_chart = std::fs::read(chart().join("crds/testjob.yaml")).expect("chart crd");
    assert!(
        generated == in_chart,
        "charts/testjob-operator/crds/testjob.yaml differs from crds/testjob.yaml: cp crds/testjob.yaml charts/testjob-operator/crds/"
    );
}

#[test]
fn chart_version_is_the_crate_version() {
    let chart_yaml: serde_json::Value = serde_yaml::from_str(
        &std::fs::read_to_string(chart().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("yaml");
    assert_eq!(chart_yaml["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn lint_strict_passes_for_default_and_custom_values() {
    for values in [None, Some("custom-values.yaml")] {
        let mut cmd = Command::new(helm());
        cmd.args(["lint", "--strict"]).arg(chart());
        if let Some(v) = values {
            cmd.arg("-f")
                .arg(root().join("tests/fixtures/chart").join(v));
        }
        let (ok, stdout, stderr) = run(&mut cmd);
        assert!(
            ok,
            "helm lint --strict ({values:?}) failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("0 chart(s) failed"), "{stdout}");
    }
}

#[test]
fn rendered_manifests_pass_kubernetes_validate() {
    let validate = testjob_testkit::tools::kubernetes_validate();
    let dir = tempfile::tempdir().expect("tempdir");
    for values in [None, Some("custom-values.yaml")] {
        let file = dir.path().join("rendered.yaml");
        std::fs::write(&file, template(values)).expect("write");
        let (ok, stdout, stderr) = run(Command::new(&validate)
            .args(["--strict", "-k", "1.35.0"])
            .arg(&file));
        assert!(
            ok,
            "kubernetes-validate ({values:?}) failed:\n{stdout}\n{stderr}"
        );
        assert!(
            !stdout.contains("ERROR") && !stderr.contains("ERROR"),
            "{stdout}{stderr}"
        );
        assert!(
            stdout.contains("passed for resource deployment/t-testjob-operator"),
            "{stdout}"
        );
    }
}

#[test]
fn bad_values_fail_with_clear_messages() {
    let (ok, _, stderr) = run(Command::new(helm())
        .args(["template", "t"])
        .arg(chart())
        .arg("-f")
        .arg(root().join("tests/fixtures/chart/bad-values.yaml")));
    assert!(!ok, "bad values were accepted");
    for expected in [
        "at '/replicaCount': got string, want integer",
        "at '/maxRunning': minimum: got -1, want 0",
        "at '/logFormat': value must be one of 'text', 'json'",
        "at '/metrics/port': maximum: got 70,000, want 65,535",
        "additional properties 'unknownTopLevel' not allowed",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn rbac_has_no_wildcards_and_only_the_calls_the_controller_makes() {
    for values in [None, Some("custom-values.yaml")] {
        let docs = documents(&template(values));
        let roles: Vec<&serde_json::Value> = docs
            .iter()
            .filter(|d| matches!(d["kind"].as_str(), Some("Role" | "ClusterRole")))
            .collect();
        assert!(roles.len() >= 2, "controller role and leader-election role");
        for role in roles {
            for rule in role["rules"].as_array().expect("rules") {
                for field in ["apiGroups", "resources", "verbs"] {
                    let items = rule[field].as_array().expect("list");
                    assert!(items.iter().all(|i| i != "*"), "wildcard in {role}");
                }
            }
        }
        let custom = values.is_some();
        let controller_role = docs
            .iter()
            .find(|d| {
                d["kind"] == if custom { "Role" } else { "ClusterRole" }
                    && !d["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .ends_with("leader-election")
            })
            .expect("controller role");
        if custom {
            assert_eq!(
                controller_role["metadata"]["namespace"], "apps",
                "watchNamespace makes it a Role there"
            );
        }
        let secrets = controller_role["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| {
                r["resources"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|x| x == "secrets"))
            });
        assert!(!secrets, "the controller never reads Secrets");
    }
}

#[test]
fn operator_pod_meets_the_restricted_pod_security_standard() {
    let docs = documents(&template(None));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let args: Vec<&str> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--leader-elect"), "{args:?}");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080"), "{args:?}");
}

//! The chart with `dashboard.enabled=true`: lint, schema, kubernetes-validate, read-only RBAC
//! without wildcards, a restricted Pod that the operator's selectors never pick; then installed into
//! the sandbox with the real helm, and the dashboard binary run with a token of the chart's
//! dashboard ServiceAccount: it serves the list, a job page with its log and events, and live
//! changes under exactly the chart's RBAC, and cannot write.

mod dashboard_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dashboard_support::{DEADLINE, Run, eventually, get, job, read_sse_until, results};
use kube::api::{Api, PostParams};
use kube_sandbox::PodMode;
use testjob_operator::crd::{Phase, TestJob};
use testjob_testkit::sandbox::{SandboxOptions, TestSandbox};
use testjob_testkit::tools;

const ENABLED: &str = "dashboard.enabled=true";

fn chart() -> PathBuf {
    testjob_testkit::workspace_dir().join("charts/testjob-operator")
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out: Output = cmd.output().expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn template(sets: &[&str]) -> String {
    let mut cmd = Command::new(tools::helm());
    cmd.args(["template", "t", "--namespace", "testjob-system"])
        .arg(chart());
    for set in sets {
        cmd.args(["--set", set]);
    }
    let (ok, stdout, stderr) = run(&mut cmd);
    assert!(ok, "helm template {sets:?} failed: {stderr}");
    stdout
}

fn documents(rendered: &str) -> Vec<serde_json::Value> {
    serde_yaml::Deserializer::from_str(rendered)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml"))
        .filter(|v: &serde_json::Value| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

const VARIANTS: [&[&str]; 2] = [
    &[ENABLED],
    &[ENABLED, "watchNamespace=apps", "maxRunning=3"],
];

#[test]
fn the_dashboard_is_off_by_default() {
    let docs = documents(&template(&[]));
    assert!(
        !docs.iter().any(|d| d["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.contains("dashboard"))),
        "dashboard objects rendered without dashboard.enabled"
    );
}

#[test]
fn lint_strict_and_kubernetes_validate_pass_with_the_dashboard() {
    let validate = tools::kubernetes_validate();
    let dir = tempfile::tempdir().expect("tempdir");
    for sets in VARIANTS {
        let mut cmd = Command::new(tools::helm());
        cmd.args(["lint", "--strict"]).arg(chart());
        for set in sets {
            cmd.args(["--set", set]);
        }
        let (ok, stdout, stderr) = run(&mut cmd);
        assert!(
            ok && stdout.contains("0 chart(s) failed"),
            "helm lint {sets:?}:\n{stdout}\n{stderr}"
        );

        let file = dir.path().join("rendered.yaml");
        std::fs::write(&file, template(sets)).expect("write");
        let (ok, stdout, stderr) = run(Command::new(&validate)
            .args(["--strict", "-k", "1.35.0"])
            .arg(&file));
        assert!(
            ok && !stdout.contains("ERROR") && !stderr.contains("ERROR"),
            "kubernetes-validate {sets:?}:\n{stdout}\n{stderr}"
        );
        for resource in [
            "deployment/t-testjob-operator-dashboard",
            "service/t-testjob-operator-dashboard",
        ] {
            assert!(
                stdout.contains(&format!("passed for resource {resource}")),
                "{resource}: {stdout}"
            );
        }
    }
}

#[test]
fn bad_dashboard_values_are_refused_by_the_schema() {
    for (set, expected) in [
        (
            "dashboard.colour=red",
            "additional properties 'colour' not allowed",
        ),
        (
            "dashboard.port=70000",
            "at '/dashboard/port': maximum: got 70,000, want 65,535",
        ),
        (
            "dashboard.service.type=Ingress",
            "at '/dashboard/service/type': value must be one of",
        ),
    ] {
        let (ok, _, stderr) = run(Command::new(tools::helm())
            .args(["template", "t"])
            .arg(chart())
            .args(["--set", set]));
        assert!(!ok, "{set} was accepted");
        assert!(
            stderr.contains(expected),
            "{set}: missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn dashboard_rbac_is_read_only_without_wildcards() {
    for sets in VARIANTS {
        let docs = documents(&template(sets));
        let namespaced = sets.contains(&"watchNamespace=apps");
        let kind = if namespaced { "Role" } else { "ClusterRole" };
        let role = find(&docs, kind, "t-testjob-operator-dashboard");
        if namespaced {
            assert_eq!(role["metadata"]["namespace"], "apps");
        }
        let rules: Vec<(String, String, Vec<String>)> = role["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .flat_map(|rule| {
                let verbs: Vec<String> =
                    serde_json::from_value(rule["verbs"].clone()).expect("verbs");
                let groups: Vec<String> =
                    serde_json::from_value(rule["apiGroups"].clone()).expect("groups");
                let resources: Vec<String> =
                    serde_json::from_value(rule["resources"].clone()).expect("resources");
                groups.into_iter().flat_map(move |g| {
                    let verbs = verbs.clone();
                    resources
                        .clone()
                        .into_iter()
                        .map(move |r| (g.clone(), r, verbs.clone()))
                })
            })
            .collect();
        let expected = [
            ("testjob.dev", "testjobs", vec!["get", "list", "watch"]),
            ("", "pods", vec!["get", "list", "watch"]),
            ("", "pods/log", vec!["get"]),
            ("", "events", vec!["list"]),
            ("", "configmaps", vec!["get"]),
        ];
        let expected: Vec<(String, String, Vec<String>)> = expected
            .iter()
            .map(|(g, r, v)| {
                (
                    g.to_string(),
                    r.to_string(),
                    v.iter().map(|v| v.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(rules, expected, "exactly the calls the dashboard makes");
        let binding = find(
            &docs,
            &format!("{kind}Binding"),
            "t-testjob-operator-dashboard",
        );
        assert_eq!(
            binding["subjects"][0]["name"],
            "t-testjob-operator-dashboard"
        );
        assert_eq!(binding["roleRef"]["kind"], kind);
    }
}

#[test]
fn dashboard_pod_is_restricted_and_apart_from_the_operator() {
    for sets in VARIANTS {
        let docs = documents(&template(sets));
        let deployment = find(&docs, "Deployment", "t-testjob-operator-dashboard");
        let pod = &deployment["spec"]["template"];
        let spec = &pod["spec"];
        assert_eq!(spec["serviceAccountName"], "t-testjob-operator-dashboard");
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &spec["containers"][0];
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
        assert_eq!(args[0], "dashboard");
        assert!(args.contains(&"--listen=0.0.0.0:8081"), "{args:?}");
        if sets.contains(&"watchNamespace=apps") {
            assert!(
                args.contains(&"--namespace=apps") && args.contains(&"--max-running=3"),
                "{args:?}"
            );
        }
        // The operator's Deployment and metrics Service must not select the dashboard's Pods.
        let labels = pod["metadata"]["labels"].as_object().expect("labels");
        let selects = |selector: &serde_json::Value| {
            selector
                .as_object()
                .expect("selector")
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        };
        let operator = find(&docs, "Deployment", "t-testjob-operator");
        assert!(!selects(&operator["spec"]["selector"]["matchLabels"]));
        assert!(!selects(
            &find(&docs, "Service", "t-testjob-operator-metrics")["spec"]["selector"]
        ));
        assert!(selects(
            &find(&docs, "Service", "t-testjob-operator-dashboard")["spec"]["selector"]
        ));
    }
}

struct Cli {
    kubeconfig: PathBuf,
}

impl Cli {
    fn run(&self, bin: &Path, args: &[&str]) -> Output {
        let dir = self.kubeconfig.parent().expect("dir");
        Command::new(bin)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", dir.join("helm-cache"))
            .env("HELM_CONFIG_HOME", dir.join("helm-config"))
            .env("HELM_DATA_HOME", dir.join("helm-data"))
            .args(args)
            .output()
            .expect("run")
    }

    fn ok(&self, bin: &Path, args: &[&str]) -> String {
        let out = self.run(bin, args);
        assert!(
            out.status.success(),
            "{} {args:?} failed:\n{}\n{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_dashboard_works_with_exactly_the_charts_rbac() {
    let sandbox = TestSandbox::start(SandboxOptions::with_pods(PodMode::Simulate))
        .await
        .expect("sandbox");
    let admin = Cli {
        kubeconfig: sandbox.kubeconfig_path().to_path_buf(),
    };
    let (helm, kubectl) = (tools::helm(), tools::kubectl());
    let chart = chart();
    let installed = admin.ok(
        &helm,
        &[
            "install",
            "testjob",
            chart.to_str().expect("path"),
            "-n",
            "testjob-system",
            "--create-namespace",
            "--set",
            ENABLED,
        ],
    );
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    assert!(
        installed.contains("port-forward svc/testjob-testjob-operator-dashboard 8081:8081"),
        "NOTES.txt tells how to reach the dashboard:\n{installed}"
    );
    admin.ok(
        &kubectl,
        &[
            "wait",
            "crd/testjobs.testjob.dev",
            "--for=condition=Established",
            "--timeout=30s",
        ],
    );

    // The controller runs with the admin's rights (chart_install.rs covers its own RBAC).
    let client = sandbox.client().await.expect("client");
    let config = dashboard_support::controller_config(0);
    let controller = tokio::spawn(testjob_operator::operator::run(client.clone(), config));

    // The dashboard, run locally with a token of the chart's dashboard ServiceAccount.
    let token = admin.ok(
        &kubectl,
        &[
            "create",
            "token",
            "testjob-testjob-operator-dashboard",
            "-n",
            "testjob-system",
        ],
    );
    let sa_kubeconfig = sandbox.dir().join("dashboard-kubeconfig");
    testjob_testkit::kubeconfig::write_token_kubeconfig(
        sandbox.kubeconfig_path(),
        token.trim(),
        &sa_kubeconfig,
    )
    .expect("kubeconfig");
    let stdout_path = sandbox.dir().join("dashboard.out");
    let mut dashboard = Command::new(env!("CARGO_BIN_EXE_testjob-operator"))
        .args(["dashboard", "--listen", "127.0.0.1:0"])
        .env("KUBECONFIG", &sa_kubeconfig)
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(sandbox.dir().join("dashboard.log")).expect("log file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start the dashboard");
    let url = eventually("the dashboard's URL", DEADLINE, || async {
        let out = std::fs::read_to_string(&stdout_path).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("dashboard: ").map(str::to_string))
    })
    .await;
    eventually("the dashboard to be ready", DEADLINE, || async {
        get(&format!("{url}readyz"))
            .await
            .ok()
            .filter(|(s, _)| *s == 200)
    })
    .await;

    // A live change reaches a browser's event stream through the chart's watch permission.
    let events_url = format!("{url}events");
    let stream =
        tokio::spawn(async move { read_sse_until(&events_url, "\"name\":\"rbac-check\"").await });

    let run = Run {
        seconds: 0.3,
        exit_code: 1,
        results: Some(results(
            &[
                ("login", "passed", None),
                ("pay", "failed", Some("card declined")),
            ],
            "1 of 2 failed",
        )),
        log: Some("paying...\ncard declined\n".into()),
    };
    let jobs: Api<TestJob> = Api::namespaced(client.clone(), "default");
    jobs.create(&PostParams::default(), &job("rbac-check", "4711", &run))
        .await
        .expect("create");
    stream.await.expect("stream task");
    eventually("rbac-check to fail", DEADLINE, || async {
        let job = jobs.get("rbac-check").await.ok()?;
        (job.status?.phase? == Phase::Failed).then_some(())
    })
    .await;

    let (status, list) = get(&url).await.expect("list");
    assert_eq!(status, 200);
    assert!(
        list.contains("rbac-check") && list.contains("1/2 passed"),
        "{list}"
    );
    let (status, page) = get(&format!("{url}jobs/default/rbac-check"))
        .await
        .expect("job page");
    assert_eq!(status, 200, "{page}");
    for shown in ["card declined", "paying...", "pay", "TestsFailed"] {
        assert!(
            page.contains(shown),
            "the job page lacks {shown:?}:\n{page}"
        );
    }
    for problem in [
        "Cannot list events",
        "Cannot read the log",
        "API error",
        "forbidden",
        "Forbidden",
    ] {
        assert!(
            !page.contains(problem),
            "{problem:?} on the job page:\n{page}"
        );
    }
    assert!(
        page.contains("<td>Failed</td>"),
        "the job's events are listed:\n{page}"
    );

    // Read-only: the dashboard's ServiceAccount cannot create or change anything.
    let sa = Cli {
        kubeconfig: sa_kubeconfig.clone(),
    };
    for verb in ["create", "patch", "delete"] {
        let can = sa.run(
            &kubectl,
            &["auth", "can-i", verb, "testjobs", "-n", "default"],
        );
        assert_eq!(
            String::from_utf8_lossy(&can.stdout).trim(),
            "no",
            "{verb} testjobs"
        );
    }
    let can = sa.run(
        &kubectl,
        &["auth", "can-i", "get", "secrets", "-n", "default"],
    );
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "no");

    let _ = dashboard.kill();
    let _ = dashboard.wait();
    controller.abort();
    sandbox.shutdown().await;
}

//! The Helm chart installed into the sandbox with the real helm, and the operator run with a token
//! of the chart's ServiceAccount under the sandbox's RBAC: proof that the chart's RBAC is enough
//! for the controller and no more. Then `helm upgrade` with changed values and `helm uninstall`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use kube_sandbox::PodMode;
use testjob_testkit::{
    kubeconfig::write_token_kubeconfig,
    operator::OperatorCommand,
    sandbox::{SandboxOptions, TestSandbox},
    tools,
    wait::poll_blocking,
    workspace_dir,
};

const RELEASE: &str = "testjob";
const RELEASE_NS: &str = "testjob-system";
const SERVICE_ACCOUNT: &str = "testjob-testjob-operator";

fn root() -> &'static Path {
    workspace_dir()
}

struct Cli {
    kubeconfig: PathBuf,
}

impl Cli {
    fn run(&self, bin: &Path, args: &[&str]) -> Output {
        Command::new(bin)
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "HELM_CACHE_HOME",
                self.kubeconfig.with_file_name("helm-cache"),
            )
            .env(
                "HELM_CONFIG_HOME",
                self.kubeconfig.with_file_name("helm-config"),
            )
            .env(
                "HELM_DATA_HOME",
                self.kubeconfig.with_file_name("helm-data"),
            )
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
async fn chart_installs_and_the_operator_works_with_exactly_its_rbac() {
    let sandbox = TestSandbox::start(SandboxOptions::with_pods(PodMode::Exec))
        .await
        .expect("sandbox");
    let admin = Cli {
        kubeconfig: sandbox.kubeconfig_path().to_path_buf(),
    };
    let helm = tools::helm();
    let kubectl = tools::kubectl();
    let chart = root().join("charts/testjob-operator");
    let chart = chart.to_str().expect("utf-8 path");

    // Values that break the schema are refused before anything is created.
    let bad = root().join("tests/fixtures/chart/bad-values.yaml");
    let out = admin.run(
        &helm,
        &[
            "install",
            "bad",
            chart,
            "-n",
            RELEASE_NS,
            "--create-namespace",
            "-f",
            bad.to_str().expect("path"),
        ],
    );
    assert!(!out.status.success(), "helm install accepted bad values");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("values don't meet the specifications of the schema"),
        "{stderr}"
    );
    assert!(
        stderr.contains("at '/logFormat': value must be one of 'text', 'json'"),
        "{stderr}"
    );

    let installed = admin.ok(
        &helm,
        &[
            "install",
            RELEASE,
            chart,
            "-n",
            RELEASE_NS,
            "--create-namespace",
        ],
    );
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    assert!(
        installed.contains("kubectl apply -n default"),
        "NOTES.txt tells the user what to run next:\n{installed}"
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

    // The operator, run locally with a token of the chart's ServiceAccount.
    let token = admin.ok(
        &kubectl,
        &["create", "token", SERVICE_ACCOUNT, "-n", RELEASE_NS],
    );
    let sa_kubeconfig = sandbox.dir().join("operator-kubeconfig");
    write_token_kubeconfig(sandbox.kubeconfig_path(), token.trim(), &sa_kubeconfig)
        .expect("write the operator's kubeconfig");
    let mut operator = OperatorCommand::new(
        env!("CARGO_BIN_EXE_testjob-operator"),
        "testjob-operator",
        sandbox.dir().join("operator.log"),
    )
    .args(["--leader-elect", "--lease-namespace", RELEASE_NS])
    .kubeconfig(&sa_kubeconfig)
    .spawn()
    .expect("start the operator");

    let sa = Cli {
        kubeconfig: sa_kubeconfig.clone(),
    };
    admin.ok(
        &kubectl,
        &[
            "apply",
            "-n",
            "default",
            "-f",
            root().join("examples/steps.yaml").to_str().expect("path"),
        ],
    );
    let waited = admin.run(
        &kubectl,
        &[
            "wait",
            "-n",
            "default",
            "testjob/checkout-steps",
            "--for=jsonpath={.status.phase}=Succeeded",
            "--timeout=60s",
        ],
    );
    let log = operator.log();
    assert!(
        waited.status.success(),
        "the TestJob did not succeed under the chart's RBAC; operator log:\n{log}"
    );
    assert!(
        !log.contains("forbidden"),
        "the operator was refused something:\n{log}"
    );
    let results = admin.ok(
        &kubectl,
        &[
            "get",
            "-n",
            "default",
            "testjob/checkout-steps",
            "-o",
            "jsonpath={.status.result} {.status.results[*].name}",
        ],
    );
    assert_eq!(
        results,
        "4/5 passed open-catalog add-to-cart apply-coupon pay confirm-order"
    );
    // The Started/Succeeded events were written with the chart's events permission.
    let events = poll_blocking("the Succeeded event", Duration::from_secs(30), || {
        let out = admin.ok(
            &kubectl,
            &[
                "get",
                "events",
                "-n",
                "default",
                "--field-selector",
                "involvedObject.name=checkout-steps",
                "-o",
                "jsonpath={.items[*].reason}",
            ],
        );
        out.contains("Succeeded").then_some(out)
    })
    .expect("the TestJob's events");
    assert!(events.contains("Started"), "{events}");
    // The leader-election Lease lives in the release namespace.
    let holder = admin.ok(
        &kubectl,
        &[
            "get",
            "leases",
            "-n",
            RELEASE_NS,
            "-o",
            "jsonpath={.items[*].spec.holderIdentity}",
        ],
    );
    assert!(
        !holder.is_empty(),
        "the operator holds a Lease in {RELEASE_NS}"
    );

    // Outside the granted rules: forbidden with kube-apiserver's message.
    admin.ok(
        &kubectl,
        &[
            "create",
            "secret",
            "generic",
            "db",
            "-n",
            "default",
            "--from-literal=password=x",
        ],
    );
    let denied = sa.run(&kubectl, &["delete", "secret", "db", "-n", "default"]);
    assert!(!denied.status.success());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains(&format!(
            "secrets \"db\" is forbidden: User \"system:serviceaccount:{RELEASE_NS}:{SERVICE_ACCOUNT}\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"default\""
        )),
        "{stderr}"
    );
    assert_eq!(
        sa.ok(
            &kubectl,
            &["auth", "can-i", "create", "pods", "-n", "default"]
        )
        .trim(),
        "yes"
    );
    let cannot = sa.run(
        &kubectl,
        &["auth", "can-i", "get", "secrets", "-n", "default"],
    );
    assert_eq!(String::from_utf8_lossy(&cannot.stdout).trim(), "no");

    operator.kill().await.expect("stop the operator");

    // Upgrade with changed values: the Deployment's flags follow.
    let upgraded = admin.ok(
        &helm,
        &[
            "upgrade",
            RELEASE,
            chart,
            "-n",
            RELEASE_NS,
            "--set",
            "maxRunning=2",
            "--set",
            "logFormat=text",
        ],
    );
    assert!(upgraded.contains("REVISION: 2"), "{upgraded}");
    let args = admin.ok(
        &kubectl,
        &[
            "get",
            "deployment",
            "-n",
            RELEASE_NS,
            "testjob-testjob-operator",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].args}",
        ],
    );
    assert!(
        args.contains("--max-running=2") && args.contains("--log-format=text"),
        "{args}"
    );
    let history = admin.ok(&helm, &["history", RELEASE, "-n", RELEASE_NS]);
    assert_eq!(
        history.lines().count(),
        3,
        "header and two revisions:\n{history}"
    );

    admin.ok(&helm, &["uninstall", RELEASE, "-n", RELEASE_NS]);
    for (kind, ns) in [
        ("clusterrole", None),
        ("clusterrolebinding", None),
        ("deployment", Some(RELEASE_NS)),
        ("serviceaccount", Some(RELEASE_NS)),
    ] {
        let mut args = vec!["get", kind, "testjob-testjob-operator"];
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        let gone = admin.run(&kubectl, &args);
        assert!(
            !gone.status.success(),
            "{kind} still exists after helm uninstall"
        );
    }
    // helm never deletes CRDs from crds/ (so TestJobs survive an uninstall).
    admin.ok(&kubectl, &["get", "crd", "testjobs.testjob.dev"]);
    sandbox.shutdown().await;
}

/// `helm install --wait` waits for the chart's Deployment to become available: the sandbox's
/// Deployment and ReplicaSet controllers roll it out and its Pod turns Ready (in simulate mode a
/// container of a `restartPolicy: Always` Pod runs until stopped, as the operator would).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_wait_succeeds_in_simulate_mode() {
    let sandbox = TestSandbox::start(SandboxOptions::with_pods(PodMode::Simulate))
        .await
        .expect("sandbox");
    let admin = Cli {
        kubeconfig: sandbox.kubeconfig_path().to_path_buf(),
    };
    let helm = tools::helm();
    let kubectl = tools::kubectl();
    let chart = root().join("charts/testjob-operator");
    let chart = chart.to_str().expect("utf-8 path");
    let installed = admin.ok(
        &helm,
        &[
            "install",
            RELEASE,
            chart,
            "-n",
            RELEASE_NS,
            "--create-namespace",
            "--wait",
            "--timeout=60s",
        ],
    );
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    let status = admin.ok(
        &kubectl,
        &[
            "get",
            "deployment",
            "-n",
            RELEASE_NS,
            "testjob-testjob-operator",
            "-o",
            "jsonpath={.status.availableReplicas} {.status.conditions[?(@.type==\"Available\")].status}",
        ],
    );
    assert_eq!(status, "1 True");
    let rollout = admin.ok(
        &kubectl,
        &[
            "rollout",
            "status",
            "-n",
            RELEASE_NS,
            "deployment/testjob-testjob-operator",
            "--timeout=30s",
        ],
    );
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    admin.ok(&helm, &["uninstall", RELEASE, "-n", RELEASE_NS, "--wait"]);
    let pods = admin.ok(&kubectl, &["get", "pods", "-n", RELEASE_NS, "-o", "name"]);
    assert_eq!(pods, "", "the release's Pods went with it");
    sandbox.shutdown().await;
}

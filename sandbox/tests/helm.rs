//! The pinned helm 4 against `kube-sandbox serve`, with default flags, on the chart in
//! `tests/fixtures/sample-chart` (a CRD in `crds/`, a custom resource, a Deployment, RBAC and a
//! ConfigMap): install, an upgrade that drops an env var and a ConfigMap key, list and history
//! (release Secrets found by label selectors), rollback, and uninstall.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Kubectl, Server, kubectls, wait_for};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The pinned helm (`TESTJOB_HELM` or `<workspace>/.tools/bin/helm`).
fn helm_bin() -> PathBuf {
    let bin = std::env::var_os("TESTJOB_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".tools/bin/helm"));
    assert!(
        bin.exists(),
        "{} is missing: run scripts/install-tools.sh",
        bin.display()
    );
    bin
}

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sample-chart")
        .display()
        .to_string()
}

/// helm with its own config, cache and data directories, talking to the sandbox.
struct Helm {
    bin: PathBuf,
    kubeconfig: PathBuf,
    home: tempfile::TempDir,
}

impl Helm {
    fn new(server: &Server) -> Helm {
        Helm {
            bin: helm_bin(),
            kubeconfig: server.kubeconfig.clone(),
            home: tempfile::tempdir().expect("helm home"),
        }
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let home = self.home.path();
        let out = Command::new(&self.bin)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env_remove("HELM_NAMESPACE")
            .env_remove("HELM_DRIVER")
            .output()
            .expect("run helm");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args);
        assert!(
            ok,
            "helm {args:?} failed:\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend_from_slice(&["-o", "json"]);
        let out = self.ok(&all);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("helm {args:?}: {e}: {out}"))
    }
}

fn get(k: &Kubectl, what: &[&str]) -> Option<Value> {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json", "--show-managed-fields"]);
    let run = k.run(&args);
    run.ok
        .then(|| serde_json::from_str(&run.stdout).expect("kubectl json"))
}

fn env_names(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .map(|env| {
            env.iter()
                .filter_map(|e| e["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn release_status(helm: &Helm) -> (i64, String) {
    let list = helm.json(&["list"]);
    let releases = list.as_array().expect("helm list -o json is an array");
    assert_eq!(releases.len(), 1, "{list:#}");
    let r = &releases[0];
    assert_eq!(r["name"], "demo");
    assert_eq!(r["namespace"], "default");
    let revision = match &r["revision"] {
        Value::String(s) => s.parse().expect("revision"),
        v => v.as_i64().expect("revision"),
    };
    (
        revision,
        r["status"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn install_upgrade_rollback_uninstall_with_default_flags() {
    let server = Server::start(&[]);
    let k = server.kubectl(&kubectls()[0]);
    let helm = Helm::new(&server);
    let chart = chart();

    let out = helm.ok(&["install", "demo", &chart]);
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(
        get(&k, &["crd", "gadgets.sample.example.com"]).is_some(),
        "the CRD from crds/ is installed"
    );
    let cm = get(&k, &["configmap", "demo-config"]).expect("configmap");
    assert_eq!(cm["data"]["extra"], "yes");
    assert_eq!(cm["data"]["greeting"], "hello");
    let helm_entry = cm["metadata"]["managedFields"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["manager"] == "helm").cloned());
    assert!(
        helm_entry.is_some_and(|e| e["operation"] == "Apply"),
        "helm installs with server-side apply: {cm:#}"
    );
    let deploy = get(&k, &["deployment", "demo-app"]).expect("deployment");
    assert_eq!(env_names(&deploy), ["GREETING", "EXTRA"]);
    for what in [
        ["serviceaccount", "demo-sa"],
        ["role", "demo-reader"],
        ["rolebinding", "demo-reader"],
        ["gadget", "demo-gadget"],
    ] {
        assert!(get(&k, &what).is_some(), "{what:?} installed");
    }
    assert_eq!(release_status(&helm), (1, "deployed".into()));

    // The upgrade drops the EXTRA env var and the `extra` key.
    helm.ok(&["upgrade", "demo", &chart, "--set", "extra=false"]);
    let cm = get(&k, &["configmap", "demo-config"]).expect("configmap");
    assert!(cm["data"].get("extra").is_none(), "{cm:#}");
    assert_eq!(cm["data"]["greeting"], "hello");
    let deploy = get(&k, &["deployment", "demo-app"]).expect("deployment");
    assert_eq!(env_names(&deploy), ["GREETING"], "{deploy:#}");
    assert_eq!(release_status(&helm), (2, "deployed".into()));

    let history = helm.json(&["history", "demo"]);
    let statuses: Vec<(i64, String)> = history
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["revision"].as_i64().unwrap_or_default(),
                h["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(statuses, [(1, "superseded".into()), (2, "deployed".into())]);

    // Rolling back to revision 1 brings both back.
    let out = helm.ok(&["rollback", "demo", "1"]);
    assert!(out.contains("Rollback was a success"), "{out}");
    let cm = get(&k, &["configmap", "demo-config"]).expect("configmap");
    assert_eq!(cm["data"]["extra"], "yes");
    let deploy = get(&k, &["deployment", "demo-app"]).expect("deployment");
    assert_eq!(env_names(&deploy), ["GREETING", "EXTRA"]);
    assert_eq!(release_status(&helm), (3, "deployed".into()));

    // Release Secrets carry helm's labels, so selectors find them.
    let secrets = k.ok(&[
        "get",
        "secrets",
        "-l",
        "owner=helm,name=demo",
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ]);
    let mut names: Vec<&str> = secrets.split_whitespace().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "sh.helm.release.v1.demo.v1",
            "sh.helm.release.v1.demo.v2",
            "sh.helm.release.v1.demo.v3"
        ]
    );

    let out = helm.ok(&["uninstall", "demo"]);
    assert!(out.contains("release \"demo\" uninstalled"), "{out}");
    for what in [
        ["configmap", "demo-config"],
        ["deployment", "demo-app"],
        ["serviceaccount", "demo-sa"],
        ["role", "demo-reader"],
        ["rolebinding", "demo-reader"],
        ["gadget", "demo-gadget"],
    ] {
        wait_for(&format!("{what:?} to be gone"), WAIT, || {
            get(&k, &what).is_none().then_some(())
        });
    }
    let list = helm.json(&["list"]);
    assert_eq!(list, Value::Array(Vec::new()));
    let left = k.ok(&["get", "secrets", "-l", "owner=helm", "-o", "name"]);
    assert!(left.trim().is_empty(), "release secrets left: {left}");
    // helm never deletes CRDs.
    assert!(get(&k, &["crd", "gadgets.sample.example.com"]).is_some());
}

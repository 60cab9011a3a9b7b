//! Harness for the end-to-end tests: a cluster, a fresh namespace per test, the TestJob CRD, the
//! operator binary as a child process, and the real kubectl.
//!
//! The cluster is a real one when `TESTJOB_E2E_KUBECONFIG` names a kubeconfig file, otherwise a
//! new in-memory sandbox per test. The sandbox, the operator process, kubectl's lookup and the
//! waits come from `testjob-testkit`; waits always have deadlines.

#![allow(dead_code, reason = "each test crate uses its own part of the harness")]

use std::{
    collections::{HashMap, hash_map::RandomState},
    future::Future,
    hash::BuildHasher,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use anyhow::{Context as _, bail};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::{
    Api,
    api::{ListParams, ObjectMeta, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::Value;
use tokio::{io::AsyncWriteExt, process::Command};

use testjob_operator::pod::{MANAGED_BY_LABEL, MANAGER, pod_selector};
use testjob_testkit::{
    operator::{self, DEBUG_LOG, OperatorCommand, OperatorProcess},
    sandbox::{SandboxOptions, TestSandbox},
    tools,
    wait::{Deadline, poll_with},
};

/// Environment variable naming a kubeconfig of a real cluster to test against.
pub const REAL_CLUSTER_ENV: &str = "TESTJOB_E2E_KUBECONFIG";

/// The package directory (examples, fixtures and the CRD are found from here).
pub fn package_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file in the package, e.g. `examples/minimal.yaml`.
pub fn package_file(relative: &str) -> PathBuf {
    package_dir().join(relative)
}

enum Cluster {
    Real,
    // Only held so that the sandbox lives as long as the test.
    Sandbox(#[allow(dead_code)] Box<TestSandbox>),
}

/// Output of one kubectl run.
#[derive(Debug)]
pub struct KubectlOutput {
    /// Whether kubectl exited 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// One test's view of a cluster: its own namespace, with the CRD installed.
pub struct TestEnv {
    /// The namespace every command of this test runs in.
    pub namespace: String,
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    client: kube::Client,
    operator: Mutex<Option<OperatorProcess>>,
    operator_log: PathBuf,
    // Declared last so the sandbox outlives everything that talks to it.
    cluster: Cluster,
}

impl TestEnv {
    /// A cluster and a fresh namespace named after `test`, with the CRD installed.
    pub async fn new(test: &str) -> anyhow::Result<Self> {
        Self::with_pods(test, kube_sandbox::PodMode::Exec).await
    }

    /// Like [`TestEnv::new`], with sandbox pods in `pods` mode (a real cluster runs them as
    /// it always does).
    pub async fn with_pods(test: &str, pods: kube_sandbox::PodMode) -> anyhow::Result<Self> {
        let (cluster, kubeconfig) = match std::env::var_os(REAL_CLUSTER_ENV) {
            Some(path) if !path.is_empty() => (Cluster::Real, PathBuf::from(path)),
            _ => {
                let handle = TestSandbox::start(SandboxOptions::with_pods(pods))
                    .await
                    .context("starting a sandbox")?;
                let path = handle.kubeconfig_path().to_path_buf();
                (Cluster::Sandbox(Box::new(handle)), path)
            }
        };
        let kubeconfig_data = Kubeconfig::read_from(&kubeconfig)
            .with_context(|| format!("reading kubeconfig {}", kubeconfig.display()))?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig_data, &KubeConfigOptions::default())
                .await?;
        let client = kube::Client::try_from(config)?;
        let namespace = unique_name(test);
        let log_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-logs");
        std::fs::create_dir_all(&log_dir)?;
        let env = TestEnv {
            operator_log: log_dir.join(format!("{namespace}-operator.log")),
            namespace,
            kubeconfig,
            kubectl: tools::kubectl(),
            client,
            operator: Mutex::new(None),
            cluster,
        };
        // Created through kube-rs: the namespace is scaffolding, not what the tests examine.
        let namespaces: Api<Namespace> = Api::all(env.client.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(env.namespace.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {}", env.namespace))?;
        env.install_crd().await?;
        Ok(env)
    }

    /// A kube-rs client for the cluster (for watches the tests make themselves).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The kubeconfig file that points at the cluster (for operator processes the tests start
    /// themselves).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Whether the tests run against a real cluster rather than a sandbox.
    pub fn is_real_cluster(&self) -> bool {
        matches!(self.cluster, Cluster::Real)
    }

    /// How long to wait for a job: real clusters pull images and schedule Pods.
    pub fn timeout(&self) -> Duration {
        if self.is_real_cluster() {
            Duration::from_secs(240)
        } else {
            Duration::from_secs(60)
        }
    }

    /// Installs the checked-in CRD (idempotent) and waits until it is served.
    async fn install_crd(&self) -> anyhow::Result<()> {
        let crd = package_file("crds/testjob.yaml");
        self.kubectl_ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=testjob-e2e",
            "-f",
            &crd.to_string_lossy(),
        ])
        .await?;
        let timeout = format!("--timeout={}s", self.timeout().as_secs());
        self.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            &timeout,
            "crd/testjobs.testjob.dev",
        ])
        .await?;
        Ok(())
    }

    /// Starts `testjob-operator run --namespace <ns>` (stopping a running one first). Its log is
    /// appended to a file under the test target directory.
    pub async fn start_operator(&self) -> anyhow::Result<()> {
        self.start_operator_with(&[]).await
    }

    /// [`TestEnv::start_operator`] with extra flags, e.g. `["--max-running", "2"]`.
    pub async fn start_operator_with(&self, flags: &[&str]) -> anyhow::Result<()> {
        self.kill_operator().await?;
        let operator = self
            .operator_command("operator")
            .args(flags.iter().copied())
            .spawn()?;
        *self.operator() = Some(operator);
        Ok(())
    }

    /// `testjob-operator run --namespace <ns>` as process `name` with the test's kubeconfig and
    /// debug logs, logging to `<ns>-<name>.log` under the test target directory; add flags and
    /// spawn it (tests that run several operators keep them themselves).
    pub fn operator_command(&self, name: &str) -> OperatorCommand {
        let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("e2e-logs")
            .join(format!("{}-{name}.log", self.namespace));
        OperatorCommand::new(env!("CARGO_BIN_EXE_testjob-operator"), name, log)
            .args(["--namespace", self.namespace.as_str()])
            .kubeconfig(&self.kubeconfig)
            .rust_log(DEBUG_LOG)
    }

    /// Kills the operator with SIGKILL, as a crash would, and reaps it.
    pub async fn kill_operator(&self) -> anyhow::Result<()> {
        let running = self.operator().take();
        if let Some(mut operator) = running {
            operator.kill().await?;
        }
        Ok(())
    }

    /// The operator's log so far, for failure messages.
    pub fn operator_log(&self) -> String {
        format!(
            "operator log ({}), last lines:\n{}",
            self.operator_log.display(),
            operator::tail(&self.operator_log, 60)
        )
    }

    /// Fails when the operator process has exited on its own.
    fn check_operator(&self) -> anyhow::Result<()> {
        match self.operator().as_mut() {
            Some(operator) => operator.check_alive(),
            None => Ok(()),
        }
    }

    fn operator(&self) -> std::sync::MutexGuard<'_, Option<OperatorProcess>> {
        self.operator.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs kubectl in the test namespace.
    pub async fn kubectl(&self, args: &[&str]) -> anyhow::Result<KubectlOutput> {
        self.kubectl_with_input(args, None).await
    }

    /// Runs kubectl in the test namespace, feeding `input` on standard input.
    pub async fn kubectl_with_input(
        &self,
        args: &[&str],
        input: Option<&str>,
    ) -> anyhow::Result<KubectlOutput> {
        let mut command = Command::new(&self.kubectl);
        command
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!("--namespace={}", self.namespace))
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("running {}", self.kubectl.display()))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input.as_bytes()).await?;
        }
        // kubectl's own --timeout flags are shorter; this only guards against a hung process.
        let limit = self.timeout() + Duration::from_secs(30);
        let output = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .with_context(|| format!("kubectl {} did not finish in {limit:?}", args.join(" ")))??;
        Ok(KubectlOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs kubectl and returns its standard output, failing with its error output otherwise.
    pub async fn kubectl_ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self.kubectl(args).await?;
        if !output.success {
            bail!(
                "kubectl {} failed:\n{}{}",
                args.join(" "),
                output.stderr,
                output.stdout
            );
        }
        Ok(output.stdout)
    }

    /// `kubectl apply -f <file>` for a file in the package.
    pub async fn apply(&self, relative: &str) -> anyhow::Result<String> {
        let path = package_file(relative);
        self.kubectl_ok(&["apply", "-f", &path.to_string_lossy()])
            .await
    }

    /// `kubectl apply` of several objects at once (as one `List`).
    pub async fn apply_all(&self, objects: &[Value]) -> anyhow::Result<()> {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
        self.apply_yaml(&list.to_string()).await?;
        Ok(())
    }

    /// `kubectl apply -f -` with `yaml` on standard input.
    pub async fn apply_yaml(&self, yaml: &str) -> anyhow::Result<String> {
        let output = self
            .kubectl_with_input(&["apply", "-f", "-"], Some(yaml))
            .await?;
        if !output.success {
            bail!("kubectl apply -f - failed:\n{}", output.stderr);
        }
        Ok(output.stdout)
    }

    /// `kubectl wait --for=<condition>` on the named TestJobs, with the test's deadline. On
    /// failure the error carries the jobs' YAML and the operator's log.
    pub async fn wait_for(&self, condition: &str, jobs: &[&str]) -> anyhow::Result<()> {
        self.check_operator()?;
        let timeout = format!("--timeout={}s", self.timeout().as_secs());
        let mut args = vec!["wait".to_owned(), format!("--for={condition}"), timeout];
        args.extend(jobs.iter().map(|job| format!("testjob/{job}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.kubectl(&args).await?;
        if !output.success {
            let state = self
                .kubectl(&["get", "testjobs", "-o", "yaml"])
                .await
                .map(|o| o.stdout)
                .unwrap_or_default();
            bail!(
                "kubectl wait --for={condition} on {jobs:?} failed:\n{}\nTestJobs:\n{state}\n{}",
                output.stderr,
                self.operator_log()
            );
        }
        Ok(())
    }

    /// Waits until each named TestJob has `status.phase` equal to `phase`.
    pub async fn wait_for_phase(&self, phase: &str, jobs: &[&str]) -> anyhow::Result<()> {
        self.wait_for(&format!("jsonpath={{.status.phase}}={phase}"), jobs)
            .await
    }

    /// A TestJob as JSON (`kubectl get testjob <name> -o json`).
    pub async fn job(&self, name: &str) -> anyhow::Result<Value> {
        let json = self
            .kubectl_ok(&["get", "testjob", name, "-o", "json"])
            .await?;
        Ok(serde_json::from_str(&json)?)
    }

    /// Phase of every TestJob in the namespace, by name.
    pub async fn phases(&self) -> anyhow::Result<HashMap<String, String>> {
        let json = self.kubectl_ok(&["get", "testjobs", "-o", "json"]).await?;
        let list: Value = serde_json::from_str(&json)?;
        Ok(list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                (
                    item["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    item["status"]["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect())
    }

    /// The runner Pods of one TestJob (selected by the operator's labels).
    pub async fn pods_of(&self, job: &str) -> anyhow::Result<Vec<Pod>> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        Ok(pods
            .list(&ListParams::default().labels(&pod_selector(job)))
            .await?
            .items)
    }

    /// Every runner Pod in the namespace.
    pub async fn runner_pods(&self) -> anyhow::Result<Vec<Pod>> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!("{MANAGED_BY_LABEL}={MANAGER}");
        Ok(pods
            .list(&ListParams::default().labels(&selector))
            .await?
            .items)
    }

    /// Polls `check` until it returns `Some`, failing after the test's deadline or when the
    /// operator has exited.
    pub async fn poll<T, F, Fut>(&self, what: &str, mut check: F) -> anyhow::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<Option<T>>>,
    {
        let deadline = Deadline::after(what, self.timeout()).every(Duration::from_millis(250));
        poll_with(deadline, || {
            let checked = check();
            async move {
                let value = checked.await?;
                if value.is_none() {
                    self.check_operator()?;
                }
                Ok(value)
            }
        })
        .await
        .with_context(|| self.operator_log())
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Killed as it is dropped.
        drop(self.operator().take());
        // A sandbox disappears with the test; a real cluster keeps namespaces, so clean up.
        if self.is_real_cluster() {
            let _ = std::process::Command::new(&self.kubectl)
                .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
                .args(["delete", "namespace", &self.namespace, "--wait=false"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A namespace name unique to this test run: `e2e-<test>-<random>`.
fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let slug: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let random = RandomState::new().hash_one((
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now(),
    ));
    format!("e2e-{}-{:06x}", slug.trim_matches('-'), random & 0xff_ffff)
}

/// Splits `kubectl get` output into rows of column name → cell, using the header's column
/// positions (cells such as `4/5 passed` contain spaces).
pub fn parse_table(output: &str) -> Vec<HashMap<String, String>> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return vec![];
    };
    let mut starts = vec![];
    let mut previous = ' ';
    for (index, c) in header.char_indices() {
        if c != ' ' && previous == ' ' {
            starts.push(index);
        }
        previous = c;
    }
    let names: Vec<String> = starts
        .iter()
        .enumerate()
        .map(|(i, start)| {
            let end = starts.get(i + 1).copied().unwrap_or(header.len());
            header[*start..end].trim().to_owned()
        })
        .collect();
    lines
        .map(|line| {
            names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let start = starts[i].min(line.len());
                    let end = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(line.len())
                        .min(line.len());
                    (name.clone(), line[start..end].trim().to_owned())
                })
                .collect()
        })
        .collect()
}

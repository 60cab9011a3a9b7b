//! A cluster to measure and break the operator on: an in-process sandbox (simulated Pods) with
//! the TestJob CRD, a ServiceAccount for the operator with the Helm chart's permissions, and
//! operator processes started from the real binary.
//!
//! The operator authenticates with its own ServiceAccount token, as it does in a cluster, so
//! that the sandbox's request accounting attributes its requests to it alone
//! ([`Cluster::operator_user`]) and the writes of the benchmark or the test never mix in.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use anyhow::{Context as _, bail};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use kube::{Client, Resource as _};
use kube_sandbox::{FaultConfig, PodMode, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::sandbox_cmd::install_crd;

/// Namespace of the operator's ServiceAccount.
pub const OPERATOR_NAMESPACE: &str = "testjob-system";
/// Name of the operator's ServiceAccount, ClusterRole and ClusterRoleBinding.
pub const OPERATOR_ACCOUNT: &str = "testjob-operator";

/// How to start a [`Cluster`].
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// How many changes the sandbox keeps for watches to resume from.
    pub watch_history: usize,
    /// Faults injected from the start.
    pub faults: FaultConfig,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            // Enough for a 10,000-job run (about ten changes per job) without any watch
            // falling out of the history.
            watch_history: 200_000,
            faults: FaultConfig::default(),
        }
    }
}

/// A sandbox with the CRD installed and a ServiceAccount for the operator.
///
/// The sandbox runs on a tokio runtime of its own: its request handlers can keep worker
/// threads busy (writes serialise on its store), and the watchers of the benchmark or the
/// test, whose timestamps are the measurements, must not wait for them.
pub struct Cluster {
    /// A client with the admin token (its requests are the benchmark's or the test's own).
    pub admin: Client,
    operator_kubeconfig: PathBuf,
    sandbox: Sandbox,
    // Dropped after the sandbox, whose tasks it runs.
    runtime: SandboxRuntime,
    dir: ScratchDir,
}

/// The sandbox's runtime, shut down without blocking when dropped (async code must not block).
struct SandboxRuntime(Option<tokio::runtime::Runtime>);

impl Drop for SandboxRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Cluster {
    /// Starts the sandbox with simulated Pods, installs the CRD and prepares the operator's
    /// ServiceAccount and kubeconfig.
    pub async fn start(options: ClusterOptions) -> anyhow::Result<Cluster> {
        let dir = ScratchDir::new()?;
        // Wrapped at once, so that an early return drops it without blocking.
        let runtime = SandboxRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("sandbox")
                .enable_all()
                .build()
                .context("starting the sandbox's runtime")?,
        ));
        let handle = runtime
            .0
            .as_ref()
            .map(|r| r.handle().clone())
            .context("the sandbox's runtime is gone")?;
        let config = SandboxConfig {
            pods: PodMode::Simulate,
            watch_history: options.watch_history,
            kubeconfig: Some(dir.path().join("admin.kubeconfig")),
            faults: options.faults,
            ..SandboxConfig::default()
        };
        let sandbox = handle
            .spawn(Sandbox::start(config))
            .await
            .context("the sandbox's start panicked")?
            .context("starting the sandbox")?;
        let admin = sandbox.client().await?;
        install_crd(&admin).await?;
        let token = operator_token(&admin).await?;
        let operator_kubeconfig = dir.path().join("operator.kubeconfig");
        write_token_kubeconfig(sandbox.kubeconfig_path(), &token, &operator_kubeconfig)?;
        Ok(Cluster {
            admin,
            operator_kubeconfig,
            dir,
            sandbox,
            runtime,
        })
    }

    /// The sandbox, for its faults, watch history and request counts.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// A new admin client with a connection pool of its own (so that a watcher's traffic
    /// does not queue behind another task's requests).
    pub async fn new_client(&self) -> anyhow::Result<Client> {
        self.sandbox().client().await
    }

    /// The kubeconfig the operator runs with (its ServiceAccount token).
    pub fn operator_kubeconfig(&self) -> &Path {
        &self.operator_kubeconfig
    }

    /// A private directory that lives as long as the cluster (operator logs go here).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keeps the directory (with the operator logs) when the cluster is dropped.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.dir.keep = true;
        self.dir.path().to_path_buf()
    }

    /// The user name the operator's requests are counted under in the sandbox's stats.
    pub fn operator_user() -> String {
        format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}")
    }

    /// Creates namespace `name`.
    pub async fn create_namespace(&self, name: &str) -> anyhow::Result<()> {
        create_namespace(&self.admin, name).await
    }

    /// Stops the sandbox (ending watches and simulated Pods) and its runtime.
    pub async fn shutdown(self) {
        let Cluster {
            sandbox, runtime, ..
        } = self;
        sandbox.shutdown().await;
        drop(runtime);
    }
}

/// A directory under the system's temporary directory, removed when dropped unless kept.
struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    fn new() -> anyhow::Result<ScratchDir> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "testjob-bench-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(ScratchDir { path, keep: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// The operator's permissions, read from the Helm chart so that they cannot drift from it: its
/// controller rules (`testjob-operator.controllerRules` in `templates/_helpers.tpl`) plus the
/// rules of its leader-election Role, as one ClusterRole.
fn operator_rules() -> anyhow::Result<Value> {
    const HELPERS: &str = include_str!("../../charts/testjob-operator/templates/_helpers.tpl");
    const RBAC: &str = include_str!("../../charts/testjob-operator/templates/rbac.yaml");
    let start = HELPERS
        .find(r#"define "testjob-operator.controllerRules" -}}"#)
        .and_then(|i| HELPERS[i..].find('\n').map(|n| i + n + 1))
        .context("no controllerRules in the chart's _helpers.tpl")?;
    let end = start
        + HELPERS[start..]
            .find("{{- end }}")
            .context("controllerRules does not end")?;
    let mut rules: Vec<Value> = serde_yaml::from_str(&HELPERS[start..end])
        .context("parsing the chart's controllerRules")?;
    // The Lease rule: the chart's only rule on coordination.k8s.io, a plain YAML block.
    let lease = RBAC
        .find(r#"- apiGroups: ["coordination.k8s.io"]"#)
        .context("no Lease rule in the chart's rbac.yaml")?;
    let block: String = RBAC[lease..]
        .lines()
        .take(3)
        .map(|line| format!("{}\n", line.trim_start()))
        .collect::<String>()
        .replacen("resources", "  resources", 1)
        .replacen("verbs", "  verbs", 1);
    let lease_rules: Vec<Value> =
        serde_yaml::from_str(&block).context("parsing the chart's Lease rule")?;
    rules.extend(lease_rules);
    Ok(Value::Array(rules))
}

/// Creates the operator's ServiceAccount with its ClusterRole and binding; returns a token.
async fn operator_token(client: &Client) -> anyhow::Result<String> {
    create_namespace(client, OPERATOR_NAMESPACE).await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": OPERATOR_ACCOUNT}}))?;
    accounts.create(&PostParams::default(), &account).await?;
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": OPERATOR_ACCOUNT},
        "rules": operator_rules()?,
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .context("creating the operator's ClusterRole")?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": OPERATOR_ACCOUNT},
        "roleRef": {"apiGroup": ClusterRole::group(&()), "kind": "ClusterRole", "name": OPERATOR_ACCOUNT},
        "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_ACCOUNT, "namespace": OPERATOR_NAMESPACE}],
    }))?;
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .context("creating the operator's ClusterRoleBinding")?;
    let request: TokenRequest = serde_json::from_value(json!({
        // A day: longer than any run.
        "spec": {"audiences": [], "expirationSeconds": 86_400},
    }))?;
    let issued = accounts
        .create_token_request(OPERATOR_ACCOUNT, &PostParams::default(), &request)
        .await
        .context("requesting a token for the operator's ServiceAccount")?;
    match issued.status {
        Some(status) if !status.token.is_empty() => Ok(status.token),
        _ => bail!("the TokenRequest returned no token"),
    }
}

/// Writes a copy of the kubeconfig at `admin` whose user authenticates with `token`.
fn write_token_kubeconfig(admin: &Path, token: &str, out: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(admin)
        .with_context(|| format!("reading the sandbox's kubeconfig {}", admin.display()))?;
    let mut config: Value = serde_yaml::from_str(&text)?;
    let Some(users) = config["users"].as_array_mut() else {
        bail!("the sandbox's kubeconfig has no users");
    };
    for user in users {
        user["user"] = json!({"token": token});
    }
    std::fs::write(out, serde_yaml::to_string(&config)?)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// CPU time and memory of a process, from `/proc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcUsage {
    /// Peak resident set size (`VmHWM`), KiB.
    pub rss_peak_kib: u64,
    /// Resident set size now (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// User plus system CPU time, milliseconds.
    pub cpu_ms: u64,
}

impl ProcUsage {
    /// Reads the usage of process `pid`.
    pub fn of(pid: u32) -> anyhow::Result<ProcUsage> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat"))?;
        Ok(ProcUsage {
            rss_peak_kib: status_kib(&status, "VmHWM:").unwrap_or(0),
            rss_kib: status_kib(&status, "VmRSS:").unwrap_or(0),
            cpu_ms: stat_cpu_ms(&stat).context("parsing /proc/PID/stat")?,
        })
    }
}

/// A `Name:   1234 kB` line of `/proc/PID/status`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `utime + stime` of `/proc/PID/stat`, in milliseconds. The fields are in clock ticks of
/// `USER_HZ`, which Linux fixes at 100 for every user-space interface.
fn stat_cpu_ms(stat: &str) -> Option<u64> {
    const USER_HZ: u64 = 100;
    // The command name (field 2) is in parentheses and may contain spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, `state` is field 3; utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1000 / USER_HZ)
}

/// The operator binary next to the running executable (cargo puts every binary of the
/// package in one directory).
pub fn sibling_operator_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the running executable")?;
    let dir = exe
        .parent()
        .context("the running executable has no directory")?;
    let binary = dir.join(format!("testjob-operator{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release --bins)",
            binary.display()
        );
    }
    Ok(binary)
}

/// An operator process (`testjob-operator run`), logging to a file; killed when dropped.
pub struct OperatorProcess {
    /// A name for messages and the `POD_NAME` the process sees (its Lease identity prefix).
    pub name: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl OperatorProcess {
    /// Starts `binary run --metrics-addr 127.0.0.1:0 <args>` with the cluster's operator
    /// kubeconfig, logging (`RUST_LOG`, default `info`) to `<cluster dir>/<name>.log`.
    pub fn start(
        cluster: &Cluster,
        binary: &Path,
        name: &str,
        args: &[String],
    ) -> anyhow::Result<OperatorProcess> {
        let log = cluster.dir().join(format!("{name}.log"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let child = Command::new(binary)
            .args(["run", "--metrics-addr", "127.0.0.1:0"])
            .args(args)
            .env("KUBECONFIG", cluster.operator_kubeconfig())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("POD_NAME", name)
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let pid = child.id().context("the operator exited at once")?;
        Ok(OperatorProcess {
            name: name.to_owned(),
            child,
            pid,
            log,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its CPU time and memory so far.
    pub fn usage(&self) -> anyhow::Result<ProcUsage> {
        ProcUsage::of(self.pid)
    }

    /// Kills it with SIGKILL, as a crash or an OOM kill would, and reaps it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("killing {}", self.name))
    }

    /// Fails when the process has exited on its own.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited with {status}\n{}", self.name, self.log_tail(40));
        }
        Ok(())
    }

    /// Waits up to `limit` for the process to exit.
    pub async fn exited(&mut self, limit: std::time::Duration) -> anyhow::Result<ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => bail!("{} did not exit within {limit:?}", self.name),
        }
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        format!(
            "--- {} ({}):\n{}",
            self.name,
            self.log.display(),
            all[all.len().saturating_sub(lines)..].join("\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fields() {
        let status = "Name:\tx\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(51_200));
        assert_eq!(status_kib(status, "VmRSS:"), Some(40_960));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        // A command name with spaces and parentheses; utime 250 and stime 50 ticks.
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0";
        assert_eq!(stat_cpu_ms(stat), Some(3_000));
        assert_eq!(stat_cpu_ms("42 (x) S 1"), None);
    }

    #[test]
    fn usage_of_this_process() {
        let usage = ProcUsage::of(std::process::id()).unwrap();
        assert!(usage.rss_peak_kib >= usage.rss_kib && usage.rss_kib > 0);
    }

    #[test]
    fn operator_rules_come_from_the_chart() {
        let rules = operator_rules().unwrap();
        let rules = rules.as_array().unwrap();
        assert_eq!(rules.len(), 5, "{rules:?}");
        let lease = &rules[4];
        assert_eq!(lease["apiGroups"], json!(["coordination.k8s.io"]));
        assert_eq!(lease["resources"], json!(["leases"]));
        assert_eq!(
            lease["verbs"],
            json!(["get", "list", "watch", "create", "update", "patch"])
        );
        assert_eq!(rules[2]["resources"], json!(["pods"]));
    }

    #[test]
    fn token_kubeconfig_replaces_the_user() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        std::fs::write(
            &admin,
            "apiVersion: v1\nkind: Config\nclusters: [{name: s, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: admin}}]\ncontexts: [{name: s, context: {cluster: s, user: u}}]\ncurrent-context: s\n",
        )
        .unwrap();
        let out = dir.path().join("op");
        write_token_kubeconfig(&admin, "sa-token", &out).unwrap();
        let config: Value = serde_yaml::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        assert_eq!(config["users"][0]["user"], json!({"token": "sa-token"}));
        assert_eq!(config["current-context"], "s");
    }
}

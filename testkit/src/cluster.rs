//! A sandbox ready for the operator: simulated Pods, the TestJob CRD, and a ServiceAccount for
//! the operator with the Helm chart's permissions, whose token is in a kubeconfig of its own.
//!
//! The operator authenticates with its own ServiceAccount token, as it does in a cluster, so
//! that the sandbox's request accounting attributes its requests to it alone
//! ([`Cluster::operator_user`]) and the writes of the benchmark or the test never mix in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, PostParams};
use kube::{Client, Resource as _};
use kube_sandbox::{FaultConfig, PodMode, Sandbox};
use serde_json::{Value, json};
use testjob_operator::sandbox_cmd::install_crd;

use crate::kubeconfig::write_token_kubeconfig;
use crate::operator::OperatorCommand;
use crate::sandbox::{SandboxOptions, TestSandbox};

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

/// A sandbox with simulated Pods, the CRD installed and a ServiceAccount for the operator.
pub struct Cluster {
    /// A client with the admin token (its requests are the benchmark's or the test's own).
    pub admin: Client,
    operator_kubeconfig: PathBuf,
    sandbox: TestSandbox,
}

impl Cluster {
    /// Starts the sandbox, installs the CRD and prepares the operator's ServiceAccount and
    /// kubeconfig.
    pub async fn start(options: ClusterOptions) -> anyhow::Result<Cluster> {
        let sandbox = TestSandbox::start(SandboxOptions {
            pods: PodMode::Simulate,
            watch_history: options.watch_history,
            faults: options.faults,
        })
        .await?;
        let admin = sandbox.client().await?;
        install_crd(&admin).await?;
        let token = operator_token(&admin).await?;
        let operator_kubeconfig = sandbox.dir().join("operator.kubeconfig");
        write_token_kubeconfig(sandbox.kubeconfig_path(), &token, &operator_kubeconfig)?;
        Ok(Cluster {
            admin,
            operator_kubeconfig,
            sandbox,
        })
    }

    /// The sandbox, for its faults, watch history and request counts.
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.sandbox()
    }

    /// A new admin client with a connection pool of its own (so that a watcher's traffic
    /// does not queue behind another task's requests).
    pub async fn new_client(&self) -> anyhow::Result<Client> {
        self.sandbox.client().await
    }

    /// The kubeconfig the operator runs with (its ServiceAccount token).
    pub fn operator_kubeconfig(&self) -> &Path {
        &self.operator_kubeconfig
    }

    /// `binary run` as process `name` (its `POD_NAME`) with the operator's kubeconfig, logging
    /// to `<name>.log` in [`Cluster::dir`]; add flags and [`OperatorCommand::spawn`] it.
    pub fn operator(&self, binary: &Path, name: &str) -> OperatorCommand {
        OperatorCommand::new(binary, name, self.dir().join(format!("{name}.log")))
            .kubeconfig(&self.operator_kubeconfig)
            .pod_name()
    }

    /// A private directory that lives as long as the cluster (operator logs go here).
    pub fn dir(&self) -> &Path {
        self.sandbox.dir()
    }

    /// Keeps the directory (with the operator logs) when the cluster is dropped.
    pub fn keep_dir(&mut self) -> PathBuf {
        self.sandbox.keep_dir()
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
        self.sandbox.shutdown().await;
    }
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
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
pub fn operator_rules() -> anyhow::Result<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_rules_come_from_the_chart() {
        let rules = operator_rules().unwrap();
        let rules = rules.as_array().unwrap();
        assert_eq!(rules.len(), 7, "{rules:?}");
        let lease = &rules[6];
        assert_eq!(lease["apiGroups"], json!(["coordination.k8s.io"]));
        assert_eq!(lease["resources"], json!(["leases"]));
        assert_eq!(
            lease["verbs"],
            json!(["get", "list", "watch", "create", "update", "patch"])
        );
        assert_eq!(rules[2]["resources"], json!(["pods"]));
        assert_eq!(rules[4]["resources"], json!(["pods/log"]));
        assert_eq!(rules[5]["resources"], json!(["configmaps"]));
    }
}

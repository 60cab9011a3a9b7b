//! The connection of `kubectl testjob`: kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster configuration), `--context`, and the namespace
//! (`-n`, else the context's, else `default`), resolved as kubectl resolves them.

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{args::GlobalArgs, errors::PluginError};

/// A client and where it points.
#[derive(Clone)]
pub struct Connection {
    /// The kube-rs client.
    pub client: kube::Client,
    /// The namespace commands work in.
    pub namespace: String,
    /// The API server URL, for error messages.
    pub url: String,
}

impl Connection {
    /// Turns a kube-rs error of a request on this connection into a [`PluginError`].
    pub fn error(&self, error: kube::Error) -> PluginError {
        PluginError::from_kube(error, &self.url)
    }
}

/// Connects as the global flags say.
pub async fn connect(global: &GlobalArgs) -> Result<Connection, PluginError> {
    let options = KubeConfigOptions {
        context: global.context.clone(),
        ..KubeConfigOptions::default()
    };
    let kubeconfig = match &global.kubeconfig {
        Some(path) => Some(Kubeconfig::read_from(path).map_err(|e| {
            PluginError::other(format!(
                "cannot read kubeconfig {}: {}",
                path.display(),
                super::errors::chain(&e)
            ))
        })?),
        // `Kubeconfig::read` merges the files of $KUBECONFIG, else reads ~/.kube/config.
        None => Kubeconfig::read().ok(),
    };
    let config = match kubeconfig {
        Some(kubeconfig) => kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| {
                PluginError::other(format!("invalid kubeconfig: {}", super::errors::chain(&e)))
            })?,
        None if global.context.is_none() => kube::Config::incluster().map_err(|e| {
            PluginError::other(format!(
                "no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not in a cluster: {}",
                super::errors::chain(&e)
            ))
        })?,
        None => {
            return Err(PluginError::other(format!(
                "context {:?} given but no kubeconfig found",
                global.context.as_deref().unwrap_or_default()
            )));
        }
    };
    let url = config.cluster_url.to_string();
    let url = url.trim_end_matches('/').to_owned();
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config)
        .map_err(|e| PluginError::other(format!("cannot build a client: {e}")))?;
    Ok(Connection {
        client,
        namespace,
        url,
    })
}

//! Starting and stopping a sandbox: TLS listener on loopback, the HTTP router, the node and the
//! controllers, the bootstrap objects every cluster has (see `crate::bootstrap`), and the
//! kubeconfig for clients.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::controllers::{self, NodeStore};
use crate::faults::FaultConfig;
use crate::handlers::App;
use crate::kubeconfig;
use crate::kubelet::{Kubelet, PodMode};
use crate::state::State;
use crate::tls;

/// How a sandbox is started.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Must be a loopback address; port 0 picks a free one.
    pub listen: SocketAddr,
    pub pods: PodMode,
    /// How many changes the watch history keeps; older resourceVersions get 410 Expired.
    pub watch_history: usize,
    /// Where to write the kubeconfig; a private temporary directory when unset.
    pub kubeconfig: Option<PathBuf>,
    /// Faults injected from the start (see `crate::faults`).
    pub faults: FaultConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            pods: PodMode::Exec,
            watch_history: 100_000,
            kubeconfig: None,
            faults: FaultConfig::default(),
        }
    }
}

/// A running sandbox. Dropping it without `shutdown` stops it too, less gracefully.
pub struct Sandbox {
    url: String,
    kubeconfig_path: PathBuf,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    _tempdir: Option<tempfile::TempDir>,
}

impl Sandbox {
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        if !config.listen.ip().is_loopback() {
            bail!(
                "the sandbox listens on loopback only, not on {}",
                config.listen
            );
        }
        let certs = tls::generate().context("generating the sandbox's certificates")?;
        let mut token_bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut token_bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
        let state = Arc::new(State::new(config.watch_history, token.clone()));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();

        let kubelet = Kubelet::start(
            config.pods,
            &state.node_name,
            Arc::new(NodeStore(Arc::downgrade(&state))),
        );
        let _ = state.kubelet.set(kubelet);
        let _ = state.ca_pem.set(certs.ca_pem.clone());
        tasks.spawn(controllers::run(state.clone(), shutdown_rx.clone()));
        tasks.spawn(crate::scheduler::run(state.clone(), shutdown_rx.clone()));
        tasks.spawn(crate::disruption::run(state.clone(), shutdown_rx.clone()));
        crate::bootstrap::create_objects(&state)?;
        state
            .faults
            .set(config.faults.clone())
            .map_err(|e| anyhow::anyhow!("invalid faults: {e}"))?;

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let url = format!("https://{addr}");
        let app = App {
            state: state.clone(),
            shutdown: shutdown_rx.clone(),
        };
        let router = axum::Router::new()
            .fallback(crate::filters::handle)
            .with_state(app);
        tasks.spawn(serve(
            listener,
            TlsAcceptor::from(certs.config),
            router,
            shutdown_rx,
        ));

        let (kubeconfig_path, tempdir) = match config.kubeconfig {
            Some(p) => (p, None),
            None => {
                let dir = tempfile::Builder::new().prefix("kube-sandbox-").tempdir()?;
                (dir.path().join("kubeconfig"), Some(dir))
            }
        };
        let rendered = kubeconfig::render(&url, &certs.ca_pem, &token)?;
        kubeconfig::write_atomically(&kubeconfig_path, &rendered)?;
        Ok(Sandbox {
            url,
            kubeconfig_path,
            state,
            shutdown,
            tasks,
            _tempdir: tempdir,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The admin bearer token (`system:masters`).
    pub fn token(&self) -> &str {
        &self.state.admin_token
    }

    /// A client for this sandbox, configured from its kubeconfig as any program would be.
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig_path)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// A client that authenticates with `token` (e.g. a ServiceAccount token from the
    /// TokenRequest API) instead of the admin token.
    pub async fn client_with_token(&self, token: &str) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig_path)?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        config.auth_info = kube::config::AuthInfo {
            token: Some(token.to_string().into()),
            ..Default::default()
        };
        Ok(kube::Client::try_from(config)?)
    }

    /// Replaces the fault settings (`pause_seconds` > 0 starts a pause now).
    pub fn set_faults(&self, faults: FaultConfig) -> anyhow::Result<()> {
        self.state
            .faults
            .set(faults)
            .map_err(|e| anyhow::anyhow!("invalid faults: {e}"))
    }

    /// The fault settings now (`pause_seconds` is what is left of a pause).
    pub fn faults(&self) -> FaultConfig {
        self.state.faults.get()
    }

    /// The request counts so far (see `crate::stats`).
    pub fn stats(&self) -> crate::stats::StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Zeroes the request counts, returning what they were.
    pub fn reset_stats(&self) -> crate::stats::StatsSnapshot {
        self.state.stats.reset()
    }

    /// Shrinks the retained watch history now, so that older resourceVersions get 410.
    pub fn set_watch_history(&self, changes: usize) {
        self.state.store.set_history_limit(changes);
    }

    /// Stops serving, ends watches and kills running pods.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(kubelet) = self.state.kubelet.get() {
            kubelet.shutdown().await;
        }
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.tasks.abort_all();
    }
}

async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

//! The operator process: wiring and lifecycle around the reconcile pipeline. It serves the HTTP
//! endpoints, waits for leadership when leader election is on, runs the controller, and stops on
//! a signal (gracefully, releasing the Lease) or when leadership is lost.

pub mod error;
pub mod http;
pub mod leader;
pub mod signals;

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use kube::{Api, Client, api::ListParams, runtime::controller as runtime_controller};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

pub use error::{Error, Result};

use crate::{
    config::Config,
    crd::TestJob,
    notify::Notifier,
    reconcile::{Context, controller, error_policy, reconcile},
};
use leader::{Elector, LeaseSettings};
use signals::signaled;

/// Runs the controller until SIGINT/SIGTERM: serves the HTTP endpoints, waits for leadership
/// when leader election is on, then reconciles. A signal stops the controller gracefully
/// (running reconciles finish, a second signal abandons them) and releases the Lease, so a
/// standby takes over at once. Fails early when the TestJob CRD is not installed, and with
/// [`Error::LeadershipLost`] when the Lease is lost, so that the replica never reconciles
/// without leadership.
pub async fn run(client: Client, config: Config) -> Result<()> {
    let jobs: Api<TestJob> = match &config.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let client_for_watches = client.clone();
    jobs.list(&ListParams::default().limit(1))
        .await
        .map_err(Error::CrdNotQueryable)?;
    let ctx = Arc::new(Context::new(client.clone(), config));
    let health = ctx.health.clone();
    let _server = AbortOnDrop(
        http::serve(ctx.config.metrics_addr, ctx.metrics.clone(), health.clone()).await?,
    );
    let signals = signals::listen(health.clone());

    let mut leadership = match &ctx.config.leader_election {
        None => None,
        Some(election) => {
            let settings = LeaseSettings {
                name: election.lease_name.clone(),
                namespace: leader::resolve_namespace(
                    election.lease_namespace.as_deref(),
                    std::env::var("POD_NAMESPACE").ok().as_deref(),
                    client.default_namespace(),
                ),
                identity: leader::default_identity(),
                duration_seconds: election.duration_seconds,
                grace_seconds: election.grace_seconds,
            };
            let elector = Elector::start(client, settings, health.clone());
            tokio::select! {
                leadership = elector.acquire() => Some(leadership),
                () = signaled(signals.clone(), 1) => {
                    info!("stopped while standing by");
                    return Ok(());
                }
            }
        }
    };

    info!(
        namespace = ctx.config.namespace.as_deref().unwrap_or("<all>"),
        image = %ctx.config.runner.image,
        "starting TestJob controller"
    );
    let _notifier = match ctx.config.notify.clone() {
        None => None,
        Some(notify) => {
            let (notifier, worker) =
                Notifier::start(notify, ctx.client.clone(), ctx.metrics.clone())
                    .map_err(|e| Error::Notify(e.to_string()))?;
            let _ = ctx.notifier.set(notifier);
            Some(AbortOnDrop(worker))
        }
    };
    let controller = match &ctx.config.namespace {
        Some(ns) => controller(
            Api::namespaced(client_for_watches.clone(), ns),
            Api::namespaced(client_for_watches, ns),
            &ctx,
        ),
        None => controller(
            Api::all(client_for_watches.clone()),
            Api::all(client_for_watches),
            &ctx,
        ),
    };
    if let Some(jobs) = ctx.job_cache() {
        ctx.metrics.watch_jobs(jobs);
    }
    // `graceful_shutdown_on` wants a `Sync` future, which a oneshot receiver is.
    let (graceful_tx, graceful_rx) = futures::channel::oneshot::channel::<()>();
    let _graceful = AbortOnDrop(tokio::spawn({
        let signals = signals.clone();
        async move {
            signaled(signals, 1).await;
            let _ = graceful_tx.send(());
        }
    }));
    let reconciles = controller
        .graceful_shutdown_on(graceful_rx.map(|_| ()))
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(%object, "reconciled"),
                // Already logged by error_policy.
                Err(runtime_controller::Error::ReconcilerFailed(..)) => {}
                // A Pod change or a scheduled look at a job the cache retired (finished, nothing
                // left to do): see `crate::job_cache`.
                Err(runtime_controller::Error::ObjectNotFound(object)) => {
                    debug!(%object, "not in the cache (retired or deleted)");
                }
                Err(error) => warn!(%error, "controller error"),
            }
        });
    let lost = async {
        match leadership.as_mut() {
            Some(leadership) => leadership.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = reconciles => info!("controller stopped"),
        reason = lost => {
            health.set_stopping();
            error!(%reason, "lost leadership; exiting");
            return Err(Error::LeadershipLost(reason));
        }
        () = signaled(signals, 2) => {
            // Reconciles may still be running: leave the Lease to expire rather than hand it
            // over while they write.
            warn!("forced shutdown: abandoning running reconciles");
            return Ok(());
        }
    }
    if let Some(leadership) = leadership
        && let Err(error) = leadership.release().await
    {
        warn!(%error, "could not release the Lease; a standby takes over once it expires");
    }
    Ok(())
}

/// Aborts a background task when dropped, so none outlives [`run`].
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

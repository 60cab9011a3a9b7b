//! Leader election with a `coordination.k8s.io/v1` Lease (kube-lease-manager), so that of several
//! replicas only one reconciles.
//!
//! kube-lease-manager takes, renews and releases the Lease. Around it this module keeps its own
//! watch on the Lease, for three things the library does not do:
//! - a standby takes over as soon as the leader *releases* the Lease (graceful shutdown), instead
//!   of sleeping until the old expiry;
//! - the leader notices at once when the Lease names another holder, and gives up when it could
//!   not renew before the Lease expired, so it never reconciles without leadership;
//! - `/readyz` knows whether a standby still reaches the API server.
//!
//! A fresh acquisition is confirmed by reading the Lease back after a short settle. The
//! library's mutual exclusion rests on server-side-apply field ownership (a second replica's
//! apply of `holderIdentity` conflicts); an API server that does not track ownership would let
//! two first acquisitions both succeed, the later one winning, and the confirmation sends the
//! loser back to standing by before it reconciles anything. Against an API server that tracks
//! ownership (kube-apiserver, the sandbox) it only costs the settle time.

use std::{
    hash::{BuildHasher, RandomState},
    pin::pin,
    sync::Arc,
    time::{Duration, SystemTime},
};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt, watcher},
};
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseParams};
use tokio::{sync::watch, task::JoinHandle, time::Instant};
use tracing::{debug, info, warn};

use crate::config::DEFAULT_LEASE_NAME;
use crate::health::{Election, Health};

/// How long a fresh holder waits before reading the Lease back (see the module docs).
const CONFIRM_SETTLE: Duration = Duration::from_millis(300);
/// Pause between failed calls to the Lease API.
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Which Lease to hold and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    /// Name of the Lease.
    pub name: String,
    /// Namespace of the Lease.
    pub namespace: String,
    /// This replica's identity, written as the Lease's `holderIdentity`.
    pub identity: String,
    /// Seconds the Lease stays valid after each renewal.
    pub duration_seconds: u64,
    /// Seconds before expiry at which the holder renews.
    pub grace_seconds: u64,
}

/// The namespace of the Lease: the flag; else `POD_NAMESPACE` (set from the downward API);
/// else the client's default namespace, which is the service account's namespace in-cluster
/// and the kubeconfig context's namespace (or `default`) outside.
pub fn resolve_namespace(
    flag: Option<&str>,
    pod_namespace: Option<&str>,
    client_default: &str,
) -> String {
    [flag, pod_namespace]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|ns| !ns.is_empty())
        .unwrap_or(client_default)
        .to_owned()
}

/// An identity unique to this process: the Pod name (`POD_NAME`), else the host name, plus a
/// random suffix so that a restarted Pod of the same name is a new holder.
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| {
            hostname::get()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.is_empty())
        });
    identity_from(
        base.as_deref(),
        RandomState::new().hash_one(SystemTime::now()),
    )
}

fn identity_from(base: Option<&str>, random: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = random;
    let suffix: String = (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect();
    // Field managers (kube-lease-manager uses one per identity) are limited to 128 bytes.
    let base: String = base
        .unwrap_or(DEFAULT_LEASE_NAME)
        .chars()
        .take(63)
        .collect();
    format!("{base}-{suffix}")
}

/// What the Lease watch last saw.
#[derive(Clone, Debug, Default, PartialEq)]
struct LeaseView {
    holder: Option<String>,
    expires: Option<SystemTime>,
    /// Whether the watch is connected (its last event was not an error).
    healthy: bool,
}

impl LeaseView {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        let expires = match (spec.renew_time, spec.lease_duration_seconds) {
            (Some(renewed), Some(seconds)) => {
                let renewed: SystemTime = renewed.0.into();
                renewed.checked_add(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
            }
            _ => None,
        };
        LeaseView {
            holder: spec.holder_identity.filter(|h| !h.is_empty()),
            expires,
            healthy: true,
        }
    }
}

/// Keeps `tx` up to date with the Lease `name`.
async fn watch_lease(api: Api<Lease>, name: String, tx: watch::Sender<LeaseView>) {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = pin!(watcher(api, config).default_backoff());
    // During a relist a Lease that is gone shows up as no InitApply before InitDone.
    let mut seen_in_relist = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Apply(lease)) => publish(&tx, LeaseView::of(&lease)),
            Ok(watcher::Event::InitApply(lease)) => {
                seen_in_relist = true;
                publish(&tx, LeaseView::of(&lease));
            }
            Ok(watcher::Event::Init) => seen_in_relist = false,
            Ok(watcher::Event::InitDone) if !seen_in_relist => publish(
                &tx,
                LeaseView {
                    healthy: true,
                    ..LeaseView::default()
                },
            ),
            Ok(watcher::Event::InitDone) => {
                tx.send_if_modified(|view| !std::mem::replace(&mut view.healthy, true));
            }
            Ok(watcher::Event::Delete(_)) => publish(
                &tx,
                LeaseView {
                    healthy: true,
                    ..LeaseView::default()
                },
            ),
            Err(error) => {
                warn!(lease = %name, %error, "watching the Lease failed; retrying");
                tx.send_if_modified(|view| std::mem::replace(&mut view.healthy, false));
            }
        }
    }
}

fn publish(tx: &watch::Sender<LeaseView>, view: LeaseView) {
    tx.send_if_modified(|current| {
        let changed = *current != view;
        *current = view;
        changed
    });
}

/// A replica that takes part in leader election.
pub struct Elector {
    client: Client,
    settings: LeaseSettings,
    health: Arc<Health>,
    view: watch::Receiver<LeaseView>,
    watch_task: JoinHandle<()>,
}

impl Drop for Elector {
    fn drop(&mut self) {
        self.watch_task.abort();
    }
}

impl Elector {
    /// Starts watching the Lease. `settings` must satisfy `0 < grace < duration` (the flags are
    /// validated so).
    pub fn start(client: Client, settings: LeaseSettings, health: Arc<Health>) -> Self {
        let api: Api<Lease> = Api::namespaced(client.clone(), &settings.namespace);
        let (tx, view) = watch::channel(LeaseView::default());
        let watch_task = tokio::spawn(watch_lease(api, settings.name.clone(), tx));
        health.set_election(Election::Starting);
        Elector {
            client,
            settings,
            health,
            view,
            watch_task,
        }
    }

    /// Waits until this replica holds the Lease, standing by meanwhile. Errors are logged and
    /// retried: a standby that cannot reach the API server reports itself unready instead.
    pub async fn acquire(mut self) -> Leadership {
        info!(
            lease = %self.settings.name,
            namespace = %self.settings.namespace,
            identity = %self.settings.identity,
            "waiting for leadership"
        );
        loop {
            let manager = self.build_manager().await;
            if !self.stand_by(&manager).await {
                continue;
            }
            if let Some(confirmed) = self.confirm().await {
                info!(lease = %self.settings.name, identity = %self.settings.identity, "acquired leadership");
                self.health.set_election(Election::Leader);
                return Leadership {
                    elector: self,
                    manager,
                    expires: confirmed.expires,
                };
            }
            // The Lease was freed, or another replica won: start over with fresh state, since
            // the manager only re-reads the Lease once its cached expiry has passed.
        }
    }

    fn params(&self) -> LeaseParams {
        LeaseParams::new(
            self.settings.identity.clone(),
            self.settings.duration_seconds,
            self.settings.grace_seconds,
        )
    }

    /// A lease manager, created (with its Lease, if absent) as soon as the API server allows.
    async fn build_manager(&self) -> Arc<LeaseManager> {
        let mut delay = RETRY_MIN;
        loop {
            let built = LeaseManager::new(
                self.client.clone(),
                &self.settings.name,
                &self.settings.namespace,
                self.params(),
                LeaseCreateMode::AutoCreate,
            )
            .await;
            match built {
                Ok(manager) => {
                    self.health.set_election(Election::Standby);
                    return Arc::new(manager);
                }
                Err(error) => {
                    warn!(
                        lease = %self.settings.name,
                        namespace = %self.settings.namespace,
                        %error,
                        "cannot use the Lease; retrying in {delay:?}"
                    );
                    self.health.set_election(Election::StandbyUnhealthy);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Stands by until `manager` holds the Lease (`true`), or the Lease was released by its
    /// holder (`false`: the caller starts over to take it at once).
    async fn stand_by(&mut self, manager: &Arc<LeaseManager>) -> bool {
        let health = self.health.clone();
        let mut acquired = pin!(wait_for_lock(manager.clone(), health));
        let mut holder = self.view.borrow_and_update().holder.clone();
        let mut watching = true;
        loop {
            tokio::select! {
                () = &mut acquired => return true,
                changed = self.view.changed(), if watching => {
                    if changed.is_err() {
                        // The watch task died; the manager's own polling still takes over.
                        warn!("the Lease watch stopped");
                        watching = false;
                        continue;
                    }
                    let view = self.view.borrow_and_update().clone();
                    self.health.set_election(if view.healthy {
                        Election::Standby
                    } else {
                        Election::StandbyUnhealthy
                    });
                    let released = holder.is_some() && view.holder.is_none() && view.healthy;
                    if view.holder != holder {
                        debug!(holder = ?view.holder, "the Lease changed hands");
                    }
                    holder = view.holder;
                    if released {
                        info!(lease = %self.settings.name, "the Lease was released; taking over");
                        return false;
                    }
                }
            }
        }
    }

    /// Reads the Lease back after a short settle: its state when it still names this replica.
    async fn confirm(&self) -> Option<LeaseView> {
        tokio::time::sleep(CONFIRM_SETTLE).await;
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.settings.namespace);
        match api.get(&self.settings.name).await {
            Ok(lease) => {
                let view = LeaseView::of(&lease);
                if view.holder.as_deref() == Some(self.settings.identity.as_str()) {
                    Some(view)
                } else {
                    let holder = view.holder;
                    warn!(
                        ?holder,
                        "another replica took the Lease at the same time; standing by"
                    );
                    None
                }
            }
            Err(error) => {
                warn!(%error, "cannot read the Lease back; standing by");
                None
            }
        }
    }
}

/// Calls `changed()` until the manager holds the Lease; errors mark the standby unhealthy.
async fn wait_for_lock(manager: Arc<LeaseManager>, health: Arc<Health>) {
    let mut delay = RETRY_MIN;
    loop {
        match manager.changed().await {
            Ok(true) => return,
            Ok(false) => {}
            Err(error) => {
                warn!(%error, "leader election failed; retrying in {delay:?}");
                health.set_election(Election::StandbyUnhealthy);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}

/// This replica holds the Lease. Keep polling [`Leadership::lost`] while reconciling.
pub struct Leadership {
    elector: Elector,
    manager: Arc<LeaseManager>,
    /// When the Lease expires unless renewed, as last seen.
    expires: Option<SystemTime>,
}

impl Leadership {
    /// This replica's identity.
    pub fn identity(&self) -> &str {
        &self.elector.settings.identity
    }

    /// Renews the Lease; completes, with the reason, only when leadership is lost: the Lease
    /// names another holder, or renewals kept failing until the Lease (nearly) expired.
    /// Cancel-safe: dropping it mid-renewal leaves the Lease consistent.
    pub async fn lost(&mut self) -> String {
        let mut renewing = pin!(keep_renewing(self.manager.clone()));
        // Views from before this replica's own acquisition reached the watch are stale.
        let mut seen_self = self.elector.view.borrow().holder.as_deref() == Some(self.identity());
        let mut watching = true;
        // Half the grace is kept as margin for clock skew and the last request in flight.
        let margin = Duration::from_millis(self.elector.settings.grace_seconds * 500);
        loop {
            let deadline = self.expires.map(|expires| {
                let left = expires
                    .duration_since(SystemTime::now())
                    .unwrap_or_default();
                Instant::now() + left.saturating_sub(margin)
            });
            tokio::select! {
                reason = &mut renewing => return reason,
                changed = self.elector.view.changed(), if watching => {
                    if changed.is_err() {
                        warn!("the Lease watch stopped; relying on renewals alone");
                        watching = false;
                        continue;
                    }
                    let view = self.elector.view.borrow_and_update().clone();
                    if view.holder.as_deref() == Some(self.identity()) {
                        seen_self = true;
                        self.expires = view.expires;
                    } else if seen_self && view.healthy {
                        return match view.holder {
                            Some(holder) => format!("the Lease is now held by {holder}"),
                            None => "the Lease was released by someone else".to_owned(),
                        };
                    }
                }
                () = sleep_until_opt(deadline) => {
                    return "the Lease could not be renewed before it expired".to_owned();
                }
            }
        }
    }

    /// Gives the Lease up so that a standby takes over at once.
    pub async fn release(self) -> Result<(), kube_lease_manager::LeaseManagerError> {
        self.elector.health.set_election(Election::Released);
        self.manager.release().await?;
        info!(lease = %self.elector.settings.name, "released the Lease");
        Ok(())
    }
}

/// Keeps the manager renewing; returns why leadership ended.
async fn keep_renewing(manager: Arc<LeaseManager>) -> String {
    loop {
        match manager.changed().await {
            Ok(false) => return "another replica holds the Lease".to_owned(),
            Ok(true) => {}
            // The caller's deadline decides when failed renewals mean lost leadership.
            Err(error) => {
                warn!(%error, "renewing the Lease failed; retrying");
                tokio::time::sleep(RETRY_MIN).await;
            }
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::coordination::v1::LeaseSpec, apimachinery::pkg::apis::meta::v1::MicroTime,
        jiff::Timestamp,
    };

    #[test]
    fn lease_namespace_prefers_flag_then_pod_namespace_then_client_default() {
        assert_eq!(resolve_namespace(Some("ops"), Some("pod-ns"), "ctx"), "ops");
        assert_eq!(resolve_namespace(None, Some("pod-ns"), "ctx"), "pod-ns");
        assert_eq!(resolve_namespace(None, None, "ctx"), "ctx");
        // Empty values (an unset downward-API field, `--lease-namespace ""`) count as absent.
        assert_eq!(resolve_namespace(Some(" "), Some(""), "default"), "default");
        assert_eq!(
            resolve_namespace(Some(""), Some(" pod-ns "), "ctx"),
            "pod-ns"
        );
    }

    #[test]
    fn identities_are_the_host_plus_a_random_suffix() {
        let a = identity_from(Some("testjob-operator-7d9f-abcde"), 1);
        let b = identity_from(Some("testjob-operator-7d9f-abcde"), 2);
        assert!(a.starts_with("testjob-operator-7d9f-abcde-"), "{a}");
        assert_ne!(a, b);
        assert_eq!(a.len(), "testjob-operator-7d9f-abcde-".len() + 5);
        assert!(identity_from(None, 3).starts_with("testjob-operator-"));
        let long = identity_from(Some(&"h".repeat(300)), 4);
        assert!(long.len() <= 63 + 6, "{long}");
        assert!(
            default_identity()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
        );
    }

    #[test]
    fn lease_view_reads_holder_and_expiry() {
        let renewed = Timestamp::from_second(1_700_000_000).expect("valid");
        let lease = Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some("a-1".into()),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(15),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        };
        let view = LeaseView::of(&lease);
        assert_eq!(view.holder.as_deref(), Some("a-1"));
        let expected: SystemTime = renewed.into();
        assert_eq!(view.expires, Some(expected + Duration::from_secs(15)));
        // A released Lease has no holder and no expiry.
        let released = LeaseView::of(&Lease::default());
        assert_eq!(released.holder, None);
        assert_eq!(released.expires, None);
    }
}

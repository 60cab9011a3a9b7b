//! `--follow`: streams the runner's log while the job runs (pods/log with `follow=true`), and
//! moves on to the new Pod when a retry starts another attempt.

use std::io::Write as _;

use futures::{AsyncReadExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::LogParams,
    runtime::watcher::{self, Event},
};
use tokio::sync::watch;

use super::client::Connection;
use crate::{crd::TestJob, pod::RUNNER_CONTAINER};

/// Follows the runner Pods the job names (`status.podName`) one after the other, until
/// `jobs` is closed and the last Pod's log has ended.
pub async fn follow_pods(
    connection: Connection,
    namespace: String,
    mut jobs: watch::Receiver<Option<TestJob>>,
) {
    let pods: Api<Pod> = Api::namespaced(connection.client.clone(), &namespace);
    let mut followed: Option<String> = None;
    loop {
        let current = jobs
            .borrow_and_update()
            .as_ref()
            .and_then(|job| job.status.as_ref())
            .and_then(|status| status.pod_name.clone());
        if let Some(pod) = current.filter(|pod| followed.as_ref() != Some(pod)) {
            // A Pod that never starts (image or config errors) is given up on once the job
            // ends or moves on to another attempt.
            let started = tokio::select! {
                started = wait_until_started(&pods, &pod) => started,
                () = moved_on(&mut jobs, &pod) => false,
            };
            if started {
                stream_log(&pods, &pod).await;
            }
            followed = Some(pod);
            // A new attempt may have been announced meanwhile: look again before waiting.
            continue;
        }
        if jobs.changed().await.is_err() {
            return;
        }
    }
}

/// Returns once the job names another Pod than `pod`, or the sender is gone (the job ended).
async fn moved_on(jobs: &mut watch::Receiver<Option<TestJob>>, pod: &str) {
    while jobs.changed().await.is_ok() {
        let current = jobs
            .borrow()
            .as_ref()
            .and_then(|job| job.status.as_ref())
            .and_then(|status| status.pod_name.clone());
        if current.is_some_and(|current| current != pod) {
            return;
        }
    }
}

/// Waits (a watch on the Pod) until its runner container runs or has run. False when the Pod
/// is gone.
async fn wait_until_started(pods: &Api<Pod>, name: &str) -> bool {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(pods.clone(), config).boxed();
    let mut seen = false;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(pod) | Event::InitApply(pod)) => {
                seen = true;
                if started(&pod) {
                    return true;
                }
            }
            Ok(Event::InitDone) if !seen => return false,
            Ok(Event::Delete(_)) => return false,
            Ok(_) => {}
            Err(error) => {
                eprintln!(
                    "warning: cannot watch pod {name}: {}",
                    super::errors::chain(&error)
                );
                return false;
            }
        }
    }
    false
}

fn started(pod: &Pod) -> bool {
    let Some(status) = &pod.status else {
        return false;
    };
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return true;
    }
    status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| c.name == RUNNER_CONTAINER)
        .filter_map(|c| c.state.as_ref())
        .any(|state| state.running.is_some() || state.terminated.is_some())
}

/// Copies the runner's log to stdout as it arrives, until the container stops.
async fn stream_log(pods: &Api<Pod>, name: &str) {
    let params = LogParams {
        container: Some(RUNNER_CONTAINER.to_owned()),
        follow: true,
        ..LogParams::default()
    };
    let mut reader = match pods.log_stream(name, &params).await {
        Ok(reader) => reader,
        Err(error) => {
            eprintln!(
                "warning: cannot stream the log of pod {name}: {}",
                super::errors::chain(&error)
            );
            return;
        }
    };
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) => return,
            Ok(n) => {
                let mut stdout = std::io::stdout().lock();
                // A closed stdout (`| head`) ends the stream, nothing more.
                if stdout
                    .write_all(&buffer[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return;
                }
            }
            Err(error) => {
                eprintln!("warning: the log stream of pod {name} broke: {error}");
                return;
            }
        }
    }
}

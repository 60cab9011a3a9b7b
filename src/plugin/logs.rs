//! `logs NAME [--attempt N] [-f]`: the runner container's log of attempt N's Pod (default: the
//! current attempt); when the Pod is gone, the tail the operator kept (`keepLogs`) in the
//! attempt's report ConfigMap.

use std::io::Write as _;

use futures::AsyncReadExt as _;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::{Api, api::LogParams};

use super::{args::LogsArgs, client::Connection, errors::PluginError};
use crate::{
    archive::{LOG_KEY, config_map_name},
    crd::TestJob,
    pod::{RUNNER_CONTAINER, pod_name},
};

/// `logs`.
pub async fn logs(connection: &Connection, args: &LogsArgs) -> Result<(), PluginError> {
    let jobs: Api<TestJob> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let job = jobs
        .get(&args.name)
        .await
        .map_err(|e| connection.error(e))?;
    let status = job.status.clone().unwrap_or_default();
    let attempt = args.attempt.or(status.attempt).unwrap_or(1);
    let pod = status
        .attempts
        .iter()
        .find(|a| a.attempt == attempt)
        .and_then(|a| a.pod_name.clone())
        .unwrap_or_else(|| pod_name(&args.name, attempt));
    let pods: Api<Pod> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let params = LogParams {
        container: Some(RUNNER_CONTAINER.to_owned()),
        follow: args.follow,
        ..LogParams::default()
    };
    match pods.log_stream(&pod, &params).await {
        Ok(mut reader) => {
            let mut buffer = vec![0u8; 16 * 1024];
            loop {
                let n = reader
                    .read(&mut buffer)
                    .await
                    .map_err(|e| PluginError::other(format!("reading the log of {pod}: {e}")))?;
                if n == 0 {
                    return Ok(());
                }
                let mut stdout = std::io::stdout().lock();
                if stdout
                    .write_all(&buffer[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            kept_log(connection, &pod).await?.map_or_else(
                || Err(PluginError::from_kube(kube::Error::Api(status), &connection.url)),
                |log| {
                    eprintln!(
                        "pod {pod} is gone: this is the tail of its log the operator kept (configmap {})",
                        config_map_name(&pod)
                    );
                    print!("{log}");
                    Ok(())
                },
            )
        }
        Err(error) => Err(connection.error(error)),
    }
}

/// The kept tail of `pod`'s log, when the operator kept one.
async fn kept_log(connection: &Connection, pod: &str) -> Result<Option<String>, PluginError> {
    let config_maps: Api<ConfigMap> =
        Api::namespaced(connection.client.clone(), &connection.namespace);
    let stored = config_maps
        .get_opt(&config_map_name(pod))
        .await
        .map_err(|e| connection.error(e))?;
    Ok(stored
        .and_then(|c| c.data)
        .and_then(|mut d| d.remove(LOG_KEY)))
}

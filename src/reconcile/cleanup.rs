//! The apply step for Pods and expired jobs: stop a runner Pod (keeping it and its logs when it
//! ran), delete a finished job's runner Pods as `podCleanup` says, delete a job whose TTL passed.

use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, Preconditions},
    runtime::controller::Action,
};
use tracing::{debug, info};

use super::{
    Context, Result,
    decide::STOP_DEADLINE_SECONDS,
    plan::{self, Stop},
};
use crate::{
    crd::TestJob,
    pod::{InvalidJob, MANAGER},
};

/// Deletes the runner Pods of every attempt of a finished job (those it controls). `last` is
/// the Pod the reconcile already read, if any.
pub async fn clean_up(job: &TestJob, last: Option<&Pod>, ctx: &Context) -> Result<()> {
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    for name in plan::attempt_pods(job) {
        let pod = match last.filter(|p| p.name_any() == name) {
            Some(pod) => Some(pod.clone()),
            None => ctx.cached_pod(&namespace, &name).await,
        };
        let Some(pod) = pod.filter(|p| plan::is_deletable(p, job)) else {
            continue;
        };
        let params = DeleteParams {
            // Only this Pod, not one created under its name since.
            preconditions: uid_precondition(pod.meta().uid.clone()),
            ..DeleteParams::default()
        };
        match delete_unread::<Pod>(&ctx.client, &namespace, &name, &params).await {
            Ok(()) => debug!(testjob = %job.name_any(), pod = %name, "deleted runner Pod"),
            Err(kube::Error::Api(status)) if status.code == 404 || status.is_conflict() => {}
            Err(error) => return Err(error.into()),
        }
    }
    ctx.writes.cleaned_up(job);
    Ok(())
}

/// Deletes a finished job whose `ttlSecondsAfterFinished` has passed (its Pods follow by garbage
/// collection).
pub async fn expire(job: &TestJob, ctx: &Context) -> Result<Action> {
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    let params = DeleteParams {
        // Only this job, not one created under its name since.
        preconditions: uid_precondition(job.meta().uid.clone()),
        ..DeleteParams::background()
    };
    match delete_unread::<TestJob>(&ctx.client, &namespace, &job.name_any(), &params).await {
        Ok(()) => info!(testjob = %job.name_any(), "deleted: ttlSecondsAfterFinished passed"),
        Err(kube::Error::Api(status)) if status.code == 404 || status.is_conflict() => {}
        Err(error) => return Err(error.into()),
    }
    Ok(Action::await_change())
}

/// Stops a runner Pod as [`plan::how_to_stop`] says.
pub async fn stop_pod(pods: &Api<Pod>, pod: &Pod) -> Result<()> {
    let name = pod.name_any();
    let result = match plan::how_to_stop(pod) {
        Stop::LowerDeadline => {
            let patch =
                serde_json::json!({"spec": {"activeDeadlineSeconds": STOP_DEADLINE_SECONDS}});
            let params = PatchParams {
                field_manager: Some(MANAGER.into()),
                ..PatchParams::default()
            };
            pods.patch(&name, &params, &Patch::Merge(&patch))
                .await
                .map(|_| ())
        }
        Stop::Delete => pods
            .delete(&name, &DeleteParams::default())
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// Deletes `name` as `Api::delete` does, without decoding the answer (the object as deleted,
/// or a Status), which nothing here reads: `Api::delete` decodes it twice, into a JSON tree
/// and then into the type, one whole object per job.
async fn delete_unread<K: Resource<DynamicType = ()>>(
    client: &Client,
    namespace: &str,
    name: &str,
    params: &DeleteParams,
) -> std::result::Result<(), kube::Error> {
    let mut request = kube::core::Request::new(K::url_path(&(), Some(namespace)))
        .delete(name, params)
        .map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("delete");
    client.request_text(request).await.map(|_| ())
}

/// A delete precondition on the object's UID, when it has one.
fn uid_precondition(uid: Option<String>) -> Option<Preconditions> {
    uid.map(|uid| Preconditions {
        uid: Some(uid),
        resource_version: None,
    })
}

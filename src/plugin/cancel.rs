//! `cancel NAME`: sets `spec.cancel: true` with a merge patch; the operator stops the job and
//! it ends `Cancelled`.

use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{client::Connection, errors::PluginError};
use crate::crd::TestJob;

/// `cancel`.
pub async fn cancel(connection: &Connection, name: &str) -> Result<(), PluginError> {
    let api: Api<TestJob> = Api::namespaced(connection.client.clone(), &connection.namespace);
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"cancel": true}})),
    )
    .await
    .map_err(|e| connection.error(e))?;
    println!("testjob.testjob.dev/{name} cancel requested");
    Ok(())
}

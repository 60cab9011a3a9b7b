//! `run` and `rerun`: create a new TestJob (always through `generateName`, labelled with its
//! test id), then optionally wait for it (`--wait`), streaming its log (`--follow`), and exit
//! with its outcome.

use std::path::Path;

use kube::{
    Api,
    api::{DynamicObject, PostParams},
    core::ApiResource,
};
use serde_json::{Value, json};

use super::{
    args::{RerunArgs, RunArgs, WaitArgs},
    client::Connection,
    errors::{EXIT_NOT_RUN, EXIT_PASSED, PluginError},
    follow, output, wait,
};
use crate::{
    crd::TestJob,
    pod::{TEST_ID_LABEL, sanitize_label_value},
};

/// The label a rerun carries: the name of the job it reruns.
pub const RERUN_OF_LABEL: &str = "testjob.dev/rerun-of";

/// `run`: create the job, wait if asked; returns the exit code.
pub async fn run(connection: &Connection, args: &RunArgs) -> Result<u8, PluginError> {
    let manifest = match &args.file {
        Some(file) => from_file(file)?,
        None => from_flags(args)?,
    };
    let namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let namespace = namespace.unwrap_or_else(|| connection.namespace.clone());
    let job = create(connection, &namespace, manifest).await?;
    finish(connection, &namespace, job, &args.wait).await
}

/// `rerun NAME`: a new job with NAME's spec (without `cancel`) and labels, plus
/// `testjob.dev/rerun-of=NAME`; NAME itself is left as it is.
pub async fn rerun(connection: &Connection, args: &RerunArgs) -> Result<u8, PluginError> {
    let api: Api<TestJob> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let old = api.get(&args.name).await.map_err(|e| connection.error(e))?;
    let mut spec = old.spec.clone();
    spec.cancel = None;
    let mut labels = old.metadata.labels.clone().unwrap_or_default();
    labels.insert(RERUN_OF_LABEL.to_owned(), sanitize_label_value(&args.name));
    labels.insert(
        TEST_ID_LABEL.to_owned(),
        sanitize_label_value(&spec.test_id.to_string()),
    );
    let manifest = json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"generateName": format!("{}-", args.name), "labels": labels},
        "spec": spec,
    });
    let job = create(connection, &connection.namespace, manifest).await?;
    finish(connection, &connection.namespace, job, &args.wait).await
}

/// Prints the new name, then waits when asked.
async fn finish(
    connection: &Connection,
    namespace: &str,
    job: TestJob,
    options: &WaitArgs,
) -> Result<u8, PluginError> {
    let name = job.metadata.name.clone().unwrap_or_default();
    println!("testjob.testjob.dev/{name} created");
    if !options.waits() {
        return Ok(EXIT_PASSED);
    }
    let waiting = wait_and_follow(connection, namespace, &name, options.follow);
    let finished = match options.timeout {
        Some(limit) => match tokio::time::timeout(limit, waiting).await {
            Ok(finished) => finished?,
            Err(_) => {
                eprintln!(
                    "error: timed out after {} waiting for testjob {name}",
                    humanize(limit)
                );
                return Ok(EXIT_NOT_RUN);
            }
        },
        None => waiting.await?,
    };
    print!("{}", output::outcome_report(&finished));
    Ok(wait::exit_code(&finished))
}

/// Waits for the final phase; with `follow`, streams the runner logs meanwhile and lets the
/// last one drain before returning.
async fn wait_and_follow(
    connection: &Connection,
    namespace: &str,
    name: &str,
    follow: bool,
) -> Result<TestJob, PluginError> {
    if !follow {
        return wait::until_final(connection, namespace, name, None).await;
    }
    let (sender, receiver) = tokio::sync::watch::channel(None);
    let follower = tokio::spawn(follow::follow_pods(
        connection.clone(),
        namespace.to_owned(),
        receiver,
    ));
    let finished = wait::until_final(connection, namespace, name, Some(&sender)).await;
    drop(sender);
    // The runner has stopped, so its log stream ends on its own; this bounds a stuck one.
    let drain = std::time::Duration::from_secs(15);
    if tokio::time::timeout(drain, follower).await.is_err() {
        eprintln!("warning: the runner's log did not end within {drain:?}");
    }
    finished
}

fn humanize(duration: std::time::Duration) -> String {
    output::human_duration(duration)
}

/// POSTs `manifest` and returns what the API server created.
async fn create(
    connection: &Connection,
    namespace: &str,
    manifest: Value,
) -> Result<TestJob, PluginError> {
    let resource = ApiResource::erase::<TestJob>(&());
    let api: Api<DynamicObject> =
        Api::namespaced_with(connection.client.clone(), namespace, &resource);
    let object: DynamicObject = serde_json::from_value(manifest)
        .map_err(|e| PluginError::other(format!("not a valid TestJob: {e}")))?;
    let created = api
        .create(&PostParams::default(), &object)
        .await
        .map_err(|e| connection.error(e))?;
    let value = serde_json::to_value(created)
        .map_err(|e| PluginError::other(format!("reading the created TestJob: {e}")))?;
    serde_json::from_value(value)
        .map_err(|e| PluginError::other(format!("reading the created TestJob: {e}")))
}

/// A manifest file made ready for a new job: its name becomes the `generateName` prefix, what
/// the server wrote (status, uid, resourceVersion …) is dropped, the test-id label is set.
fn from_file(path: &Path) -> Result<Value, PluginError> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| PluginError::other(format!("cannot read {}: {e}", path.display())))?;
    let manifest: Value = serde_yaml::from_str(&text)
        .map_err(|e| PluginError::other(format!("{} is not YAML: {e}", path.display())))?;
    prepare(manifest).map_err(|e| PluginError::other(format!("{}: {e}", path.display())))
}

fn prepare(mut manifest: Value) -> Result<Value, String> {
    if manifest.get("kind").and_then(Value::as_str) != Some("TestJob") {
        return Err("expected one TestJob manifest (kind: TestJob)".into());
    }
    let test_id = match manifest.pointer("/spec/testId") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("spec.testId is required".into()),
    };
    let Some(object) = manifest.as_object_mut() else {
        return Err("expected a mapping".into());
    };
    object.remove("status");
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("metadata must be a mapping")?;
    let prefix = match (metadata.remove("name"), metadata.get("generateName")) {
        (Some(Value::String(name)), _) => format!("{name}-"),
        (_, Some(Value::String(prefix))) => prefix.clone(),
        _ => format!("{}-", name_prefix(&test_id)),
    };
    metadata.insert("generateName".into(), Value::String(prefix));
    for server_field in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
        "deletionTimestamp",
        "ownerReferences",
    ] {
        metadata.remove(server_field);
    }
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("metadata.labels must be a mapping")?;
    labels.insert(
        TEST_ID_LABEL.into(),
        Value::String(sanitize_label_value(&test_id)),
    );
    Ok(manifest)
}

/// A manifest from `--test-id`, `--image` and the command after `--`.
fn from_flags(args: &RunArgs) -> Result<Value, PluginError> {
    let test_id = args
        .test_id
        .as_deref()
        .ok_or_else(|| PluginError::other("one of -f FILE or --test-id ID is required"))?;
    // `220` is the integer test id 220, as in a manifest; anything else a string.
    let id_value = match test_id.parse::<i64>() {
        Ok(n) if n.to_string() == test_id => json!(n),
        _ => json!(test_id),
    };
    let mut runner = serde_json::Map::new();
    if let Some(image) = &args.image {
        runner.insert("image".into(), json!(image));
    }
    if !args.command.is_empty() {
        runner.insert("command".into(), json!(args.command));
    }
    let mut spec = json!({"testId": id_value});
    if !runner.is_empty() {
        spec["runner"] = Value::Object(runner);
    }
    prepare(json!({
        "apiVersion": "testjob.dev/v1alpha1",
        "kind": "TestJob",
        "metadata": {"generateName": format!("{}-", name_prefix(test_id))},
        "spec": spec,
    }))
    .map_err(PluginError::other)
}

/// A name prefix made of a test id: lower-case alphanumerics and dashes, at most 40 characters.
fn name_prefix(test_id: &str) -> String {
    let slug: String = test_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "testjob".to_owned()
    } else {
        format!("test-{slug}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_name_becomes_the_prefix() {
        let manifest = prepare(json!({
            "apiVersion": "testjob.dev/v1alpha1", "kind": "TestJob",
            "metadata": {"name": "checkout-steps", "uid": "u", "resourceVersion": "5"},
            "spec": {"testId": "checkout flow"},
            "status": {"phase": "Failed"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            manifest["metadata"],
            json!({"generateName": "checkout-steps-",
                   "labels": {"testjob.dev/test-id": sanitize_label_value("checkout flow")}})
        );
        assert!(manifest.get("status").is_none());
        assert!(prepare(json!({"kind": "Pod", "spec": {}})).is_err());
        assert!(prepare(json!({"kind": "TestJob", "spec": {}})).is_err());
    }

    #[test]
    fn test_ids_make_name_prefixes() {
        assert_eq!(name_prefix("220"), "test-220");
        assert_eq!(name_prefix("Checkout_Flow"), "test-checkout-flow");
        assert_eq!(name_prefix("!!"), "testjob");
    }
}

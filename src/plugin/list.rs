//! `list`: TestJobs newest first, with the columns of `kubectl get testjobs` (NAME TEST STATUS
//! RESULT DURATION AGE; NAMESPACE first with `-A`), filtered by the selectable fields
//! `status.testId` and `status.phase`.

use std::time::Duration;

use kube::{
    Api, Resource as _,
    api::{ListParams, ObjectList},
};
use serde_json::json;

use super::{
    args::{ListArgs, ListOutput},
    client::Connection,
    errors::PluginError,
    output,
};
use crate::crd::TestJob;

/// The field selector of `--test` and `--phase`.
pub fn field_selector(args: &ListArgs) -> String {
    let mut fields = vec![];
    if let Some(test) = &args.test {
        fields.push(format!("status.testId={test}"));
    }
    if let Some(phase) = &args.phase {
        fields.push(format!("status.phase={phase}"));
    }
    fields.join(",")
}

/// `list`.
pub async fn list(
    connection: &Connection,
    args: &ListArgs,
    all_namespaces: bool,
) -> Result<(), PluginError> {
    let api: Api<TestJob> = if all_namespaces {
        Api::all(connection.client.clone())
    } else {
        Api::namespaced(connection.client.clone(), &connection.namespace)
    };
    let mut params = ListParams::default();
    let selector = field_selector(args);
    if !selector.is_empty() {
        params = params.fields(&selector);
    }
    let list: ObjectList<TestJob> = api.list(&params).await.map_err(|e| connection.error(e))?;
    let mut items = list.items;
    // Newest first; the name breaks ties so the order is stable.
    items.sort_by(|a, b| {
        let created = |j: &TestJob| j.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(b)
            .cmp(&created(a))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    match args.output {
        Some(ListOutput::Name) => {
            for job in &items {
                // kubectl's `-o name`: the lower-case kind, then the group.
                println!(
                    "{}.{}/{}",
                    TestJob::kind(&()).to_ascii_lowercase(),
                    TestJob::group(&()),
                    job.metadata.name.as_deref().unwrap_or_default()
                );
            }
        }
        Some(format @ (ListOutput::Json | ListOutput::Yaml)) => {
            let document = json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": items,
                "metadata": {"resourceVersion": ""},
            });
            let text = if format == ListOutput::Json {
                serde_json::to_string_pretty(&document)
                    .map(|t| t + "\n")
                    .map_err(|e| e.to_string())
            } else {
                serde_yaml::to_string(&document).map_err(|e| e.to_string())
            }
            .map_err(|e| PluginError::other(format!("rendering the list: {e}")))?;
            print!("{text}");
        }
        None if items.is_empty() => {
            if all_namespaces {
                eprintln!("No resources found");
            } else {
                eprintln!("No resources found in {} namespace.", connection.namespace);
            }
        }
        None => print!("{}", table(&items, all_namespaces)),
    }
    Ok(())
}

/// The rows of `kubectl get testjobs`.
pub fn table(items: &[TestJob], all_namespaces: bool) -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|job| {
            let status = job.status.clone().unwrap_or_default();
            let age = job
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| {
                    let seconds = now.duration_since(t.0).as_secs().max(0);
                    output::human_duration(Duration::from_secs(seconds.unsigned_abs()))
                })
                .unwrap_or_else(|| "<unknown>".into());
            let mut row = vec![];
            if all_namespaces {
                row.push(job.metadata.namespace.clone().unwrap_or_default());
            }
            row.extend([
                job.metadata.name.clone().unwrap_or_default(),
                job.spec.test_id.to_string(),
                status.phase.map(|p| p.to_string()).unwrap_or_default(),
                status.result.unwrap_or_default(),
                status.duration.unwrap_or_default(),
                age,
            ]);
            row
        })
        .collect();
    let mut header = vec![];
    if all_namespaces {
        header.push("NAMESPACE");
    }
    header.extend(["NAME", "TEST", "STATUS", "RESULT", "DURATION", "AGE"]);
    output::table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_a_field_selector() {
        let args = ListArgs {
            test: Some("220".into()),
            phase: Some("Failed".into()),
            output: None,
        };
        assert_eq!(
            field_selector(&args),
            "status.testId=220,status.phase=Failed"
        );
    }
}

//! `results NAME`: the results table and summary line, the results as JSON, or the stored full
//! report (JUnit or TAP) byte for byte from the ConfigMap that `status.report` names.

use std::io::{Read as _, Write as _};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::json;

use super::{args::ResultsFormat, client::Connection, errors::PluginError, output};
use crate::crd::TestJob;

/// `results`.
pub async fn results(
    connection: &Connection,
    name: &str,
    format: ResultsFormat,
) -> Result<(), PluginError> {
    let api: Api<TestJob> = Api::namespaced(connection.client.clone(), &connection.namespace);
    let job = api.get(name).await.map_err(|e| connection.error(e))?;
    let status = job.status.clone().unwrap_or_default();
    let wanted = match format {
        ResultsFormat::Table => {
            print!("{}", output::outcome_report(&job));
            return Ok(());
        }
        ResultsFormat::Json => {
            let document = json!({
                "name": name,
                "phase": status.phase,
                "reason": output::reason(&job),
                "summary": status.summary,
                "results": status.results,
                "resultsOmitted": status.results_omitted,
            });
            let text = serde_json::to_string_pretty(&document)
                .map_err(|e| PluginError::other(format!("rendering the results: {e}")))?;
            println!("{text}");
            return Ok(());
        }
        ResultsFormat::Junit => "JUnit",
        ResultsFormat::Tap => "TAP",
    };
    let Some(report) = status.report else {
        return Err(PluginError::other(format!(
            "testjob {name} has no stored report (status.report is empty: the runner wrote no $TESTJOB_REPORT_FILE, or the job has not finished)"
        )));
    };
    if !report.format.eq_ignore_ascii_case(wanted) {
        return Err(PluginError::other(format!(
            "the stored report of testjob {name} is {}, not {wanted}: use --format {}",
            report.format,
            report.format.to_ascii_lowercase()
        )));
    }
    let config_maps: Api<ConfigMap> =
        Api::namespaced(connection.client.clone(), &connection.namespace);
    let stored = config_maps
        .get(&report.config_map)
        .await
        .map_err(|e| connection.error(e))?;
    let missing = || {
        PluginError::other(format!(
            "configmap {} has no key {:?}",
            report.config_map, report.key
        ))
    };
    let bytes = if report.compressed {
        let gzipped = stored
            .binary_data
            .as_ref()
            .and_then(|d| d.get(&report.key))
            .ok_or_else(missing)?;
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gzipped.0[..])
            .read_to_end(&mut raw)
            .map_err(|e| PluginError::other(format!("the stored report does not gunzip: {e}")))?;
        raw
    } else {
        stored
            .data
            .as_ref()
            .and_then(|d| d.get(&report.key))
            .ok_or_else(missing)?
            .as_bytes()
            .to_vec()
    };
    if report.truncated {
        eprintln!(
            "warning: the stored report was cut to fit a ConfigMap ({} of {} bytes)",
            bytes.len(),
            report.bytes
        );
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| PluginError::other(format!("writing the report: {e}")))
}

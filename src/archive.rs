//! What is kept of an attempt once its runner Pod may go: the full report (as the runner wrote
//! it, byte for byte) and, with `keepLogs`, the last 64 KiB of the runner's log, in one ConfigMap
//! `<pod>-report` owned by the TestJob, so garbage collection removes it with the job.
//!
//! A ConfigMap holds at most 1 MiB. A report that fits as text goes under `data`; a larger one
//! or one that is not UTF-8 is gzipped into `binaryData` (`<key>.gz`); a report too large even
//! gzipped is kept cut — its first part, gzipped — and `status.report.truncated` says so (the
//! summary still counts every test, since it comes from the whole report). Pure functions.

use std::collections::BTreeMap;

use k8s_openapi::{ByteString, api::core::v1::ConfigMap};
use kube::{Resource, ResourceExt, api::ObjectMeta};

use crate::{
    crd::{ReportStatus, TestJob},
    handover::{gzip, sha256_hex},
    pod::{InvalidJob, MANAGED_BY_LABEL, MANAGER, NAME_LABEL, sanitize_label_value},
};

/// Bytes of report and log a ConfigMap may hold: below the 1 MiB limit, with room for metadata.
pub const BUDGET: usize = 960 * 1024;
/// How much of the runner's log is kept.
pub const LOG_TAIL_BYTES: usize = 64 * 1024;
/// The key of the kept log.
pub const LOG_KEY: &str = "runner.log";

/// The ConfigMap that keeps attempt `pod_name`'s report and log.
pub fn config_map_name(pod_name: &str) -> String {
    format!("{pod_name}-report")
}

/// A report as it arrived, with what it was read as.
pub struct Report<'a> {
    /// The bytes the runner wrote.
    pub bytes: &'a [u8],
    /// `JSON`, `JUnit`, `TAP`, or `unknown` when it could not be read.
    pub format: &'a str,
}

/// The ConfigMap to apply, and what `status.report` says of it.
pub struct Archive {
    /// The ConfigMap, ready for a server-side apply.
    pub config_map: ConfigMap,
    /// `status.report`, when there was a report.
    pub report: Option<ReportStatus>,
}

/// Builds the ConfigMap of attempt `pod_name` of `job` with `report` and the tail of `log`.
pub fn archive(
    job: &TestJob,
    pod_name: &str,
    report: Option<Report<'_>>,
    log: Option<&str>,
) -> Result<Archive, InvalidJob> {
    let namespace = job.namespace().ok_or(InvalidJob::MissingNamespace)?;
    let owner = job
        .controller_owner_ref(&())
        .ok_or(InvalidJob::MissingUid)?;
    let name = config_map_name(pod_name);
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let log = log.map(tail);
    let budget = BUDGET - log.as_ref().map_or(0, String::len);
    if let Some(log) = log {
        data.insert(LOG_KEY.to_owned(), log);
    }
    let status = report.map(|report| {
        let key = format!("report.{}", extension(report.format));
        let mut status = ReportStatus {
            config_map: name.clone(),
            key: key.clone(),
            format: report.format.to_owned(),
            bytes: i64::try_from(report.bytes.len()).unwrap_or(i64::MAX),
            sha256: sha256_hex(report.bytes),
            compressed: false,
            truncated: false,
        };
        match std::str::from_utf8(report.bytes) {
            Ok(text) if text.len() <= budget => {
                data.insert(key, text.to_owned());
            }
            _ => {
                let (gzipped, truncated) = gzip_within(report.bytes, budget);
                status.key = format!("{key}.gz");
                status.compressed = true;
                status.truncated = truncated;
                binary.insert(status.key.clone(), ByteString(gzipped));
            }
        }
        status
    });
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), MANAGER.to_owned()),
        (NAME_LABEL.to_owned(), sanitize_label_value(&job.name_any())),
    ]);
    Ok(Archive {
        config_map: ConfigMap {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(namespace),
                labels: Some(labels),
                owner_references: Some(vec![owner]),
                ..ObjectMeta::default()
            },
            data: (!data.is_empty()).then_some(data),
            binary_data: (!binary.is_empty()).then_some(binary),
            ..ConfigMap::default()
        },
        report: status,
    })
}

/// The file extension of a report format.
fn extension(format: &str) -> &'static str {
    match format {
        "JUnit" => "xml",
        "TAP" => "tap",
        "JSON" => "json",
        _ => "txt",
    }
}

/// The last [`LOG_TAIL_BYTES`] of `log`, starting at a line when one starts near the cut.
fn tail(log: &str) -> String {
    if log.len() <= LOG_TAIL_BYTES {
        return log.to_owned();
    }
    let mut start = log.len() - LOG_TAIL_BYTES;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    let cut = &log[start..];
    match cut.find('\n') {
        Some(newline) if newline < 1024 => cut[newline + 1..].to_owned(),
        _ => cut.to_owned(),
    }
}

/// `bytes` gzipped, or the longest prefix of them (found by halving) whose gzip fits `budget`.
/// Returns whether it was cut.
fn gzip_within(bytes: &[u8], budget: usize) -> (Vec<u8>, bool) {
    let whole = gzip(bytes);
    if whole.len() <= budget {
        return (whole, false);
    }
    // The compression ratio of the whole gives a first guess; shrink until it fits.
    let mut len = (bytes.len() as u128 * budget as u128 / whole.len() as u128) as usize;
    loop {
        len = len.min(bytes.len());
        let cut = gzip(&bytes[..len]);
        if cut.len() <= budget || len == 0 {
            return (cut, true);
        }
        len = len * 9 / 10;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::crd::{TestId, TestJobSpec};

    fn job() -> TestJob {
        let mut job = TestJob::new("smoke", TestJobSpec::new(TestId::Int(1)));
        job.metadata.namespace = Some("ns".into());
        job.metadata.uid = Some("uid-1".into());
        job
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gzip");
        out
    }

    /// Bytes that do not compress.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 88172645463325252;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 95 + 32) as u8
            })
            .collect()
    }

    #[test]
    fn a_text_report_is_kept_as_is_and_owned_by_the_job() {
        let report = b"TAP version 13\n1..1\nok 1\n";
        let archive = archive(
            &job(),
            "smoke-1",
            Some(Report {
                bytes: report,
                format: "TAP",
            }),
            None,
        )
        .expect("archive");
        let status = archive.report.expect("status");
        assert_eq!(
            (
                status.config_map.as_str(),
                status.key.as_str(),
                status.compressed
            ),
            ("smoke-1-report", "report.tap", false)
        );
        assert_eq!(status.bytes, report.len() as i64);
        assert_eq!(status.sha256, sha256_hex(report));
        let cm = archive.config_map;
        assert_eq!(
            cm.data
                .as_ref()
                .and_then(|d| d.get("report.tap"))
                .map(String::as_bytes),
            Some(&report[..])
        );
        let owner = &cm.metadata.owner_references.expect("owner")[0];
        assert_eq!(
            (owner.uid.as_str(), owner.controller),
            ("uid-1", Some(true))
        );
    }

    #[test]
    fn a_large_or_binary_report_is_gzipped_and_comes_back_byte_for_byte() {
        let big = b"<testcase name=\"x\"/>\n".repeat(60_000);
        assert!(big.len() > BUDGET);
        for report in [big, vec![0xff, 0x00, 0xfe]] {
            let archive = archive(
                &job(),
                "smoke-1",
                Some(Report {
                    bytes: &report,
                    format: "JUnit",
                }),
                None,
            )
            .expect("archive");
            let status = archive.report.expect("status");
            assert!(status.compressed && !status.truncated);
            assert_eq!(status.key, "report.xml.gz");
            let stored = &archive.config_map.binary_data.expect("binary")[&status.key];
            assert_eq!(gunzip(&stored.0), report);
        }
    }

    #[test]
    fn a_report_too_large_even_gzipped_is_kept_cut() {
        let report = noise(3 << 20);
        let archive = archive(
            &job(),
            "smoke-1",
            Some(Report {
                bytes: &report,
                format: "JUnit",
            }),
            Some("log line\n"),
        )
        .expect("archive");
        let status = archive.report.expect("status");
        assert!(status.compressed && status.truncated);
        assert_eq!(
            status.sha256,
            sha256_hex(&report),
            "the digest is of the whole report"
        );
        let stored = &archive.config_map.binary_data.expect("binary")[&status.key];
        assert!(stored.0.len() <= BUDGET);
        let kept = gunzip(&stored.0);
        assert!(
            report.starts_with(&kept) && kept.len() > 100_000,
            "{}",
            kept.len()
        );
    }

    #[test]
    fn the_log_keeps_its_last_64_kib_from_a_line_start() {
        let log: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        let archive = archive(&job(), "smoke-2", None, Some(&log)).expect("archive");
        assert!(archive.report.is_none());
        let kept = &archive.config_map.data.expect("data")[LOG_KEY];
        assert!(kept.len() <= LOG_TAIL_BYTES);
        assert!(kept.starts_with("line ") && kept.ends_with("line 19999\n"));
        assert!(log.ends_with(kept.as_str()));
        let short = archive_log("hello\n");
        assert_eq!(short, "hello\n");
    }

    fn archive_log(log: &str) -> String {
        archive(&job(), "smoke-1", None, Some(log))
            .expect("archive")
            .config_map
            .data
            .expect("data")[LOG_KEY]
            .clone()
    }
}

//! The report hand-over: how a runner's report of any size reaches the controller through the
//! Kubernetes API alone — no object store, no volume shared between nodes, no image but the
//! operator's own, no API token in the runner Pod. It follows Tekton's sidecar-logs results
//! (TEP-0127), which met the same 4 KiB termination-message wall.
//!
//! - The runner writes its report to `$TESTJOB_REPORT_FILE` ([`REPORT_FILE`]), in an `emptyDir`
//!   volume it shares with the Pod's native sidecar [`SIDECAR`] (the operator's image running
//!   `testjob-operator report-sidecar`, an init container with `restartPolicy: Always`). Its
//!   postStart hook waits for [`READY_FILE`], which the sidecar writes once it listens for
//!   SIGTERM; the kubelet starts the runner only after the hook, so a runner that ends at once
//!   cannot have the sidecar stopped before it could hear it.
//! - The kubelet stops the sidecar (SIGTERM) once the runner exited, or when the Pod is stopped.
//!   The sidecar then reads the file and hands it over, gzipped:
//!   - when it fits, the whole report goes into the sidecar's termination message, which the
//!     controller reads from the Pod status it watches anyway: no extra API request;
//!   - otherwise its log gets the report in base64 lines between a header and an end line
//!     ([`encode`]), and the termination message says how many bytes with which SHA-256; the
//!     controller reads the sidecar's log once (`pods/log`) and checks both ([`decode_log`]).
//! - No file: [`Handover::Missing`] (the small JSON results protocol still works as before). A
//!   file over [`MAX_REPORT_BYTES`]: [`Handover::TooLarge`], nothing read.
//!
//! Everything here is pure; `crate::sidecar` is the sidecar's process and
//! `crate::reconcile::collect` the controller's reads.

use std::io::{Read, Write};

use base64::{Engine, engine::general_purpose::STANDARD};
use flate2::{Compression, read::GzDecoder, write::GzEncoder};
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the sidecar container that hands the report over.
pub const SIDECAR: &str = "report";
/// Name of the `emptyDir` volume the runner and the sidecar share.
pub const VOLUME: &str = "testjob-report";
/// Where that volume is mounted in both containers.
pub const MOUNT_PATH: &str = "/testjob";
/// Name of the sidecar's own small `emptyDir` (memory-backed), for its ready file.
pub const STATE_VOLUME: &str = "testjob-sidecar";
/// Where that volume is mounted in the sidecar.
pub const STATE_PATH: &str = "/run/testjob-sidecar";
/// The file the sidecar writes once it listens for SIGTERM; its postStart hook waits for it, so
/// the kubelet starts the runner only then (a runner that ends at once would otherwise have the
/// sidecar stopped before it could hand anything over).
pub const READY_FILE: &str = "/run/testjob-sidecar/ready";
/// Where the runner writes its report (`$TESTJOB_REPORT_FILE`).
pub const REPORT_FILE: &str = "/testjob/report";
/// The largest report handed over: the largest the parsers read; a larger one is refused unread.
pub const MAX_REPORT_BYTES: u64 = crate::report::MAX_REPORT_BYTES as u64;

/// The kubelet keeps at most 4096 bytes of a termination message; leave room.
const MESSAGE_LIMIT: usize = 4000;
/// Characters of base64 per log line: far below every runtime's line limit.
const LINE_CHARS: usize = 8192;
/// First word of the header line and of the end line in the sidecar's log.
const MARK: &str = "testjob-report/v1";

/// What the sidecar says in its termination message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    /// Protocol version.
    v: u32,
    /// No report file was written.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    missing: bool,
    /// The file is larger than [`MAX_REPORT_BYTES`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    too_large: bool,
    /// The file could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// Size of the raw report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    /// SHA-256 of the raw report, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// Size of the gzipped report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gzip: Option<u64>,
    /// The gzipped report in base64, when it fits here; otherwise it is in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
}

/// What the sidecar writes: its termination message and, for a large report, its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The termination message (at most [`MESSAGE_LIMIT`] bytes).
    pub message: String,
    /// The log, when the report does not fit the message.
    pub log: Option<String>,
}

/// Encodes a report for the hand-over.
pub fn encode(report: &[u8]) -> Encoded {
    let gzipped = gzip(report);
    let mut message = Message {
        v: 1,
        bytes: Some(report.len() as u64),
        sha256: Some(sha256_hex(report)),
        gzip: Some(gzipped.len() as u64),
        data: Some(STANDARD.encode(&gzipped)),
        ..Message::default()
    };
    let inline = to_json(&message);
    if inline.len() <= MESSAGE_LIMIT {
        return Encoded {
            message: inline,
            log: None,
        };
    }
    let data = message.data.take().unwrap_or_default();
    let mut log = format!(
        "{MARK} bytes={} sha256={} gzip={}\n",
        report.len(),
        message.sha256.as_deref().unwrap_or_default(),
        gzipped.len()
    );
    for line in data.as_bytes().chunks(LINE_CHARS) {
        log.push_str(&String::from_utf8_lossy(line));
        log.push('\n');
    }
    log.push_str(MARK);
    log.push_str(" end\n");
    Encoded {
        message: to_json(&message),
        log: Some(log),
    }
}

/// The termination message of a sidecar that found no report file.
pub fn encode_missing() -> String {
    to_json(&Message {
        v: 1,
        missing: true,
        ..Message::default()
    })
}

/// The termination message of a sidecar whose report file has `bytes`, over the limit.
pub fn encode_too_large(bytes: u64) -> String {
    to_json(&Message {
        v: 1,
        too_large: true,
        bytes: Some(bytes),
        ..Message::default()
    })
}

/// The termination message of a sidecar that could not read the report file.
pub fn encode_error(error: &str) -> String {
    to_json(&Message {
        v: 1,
        error: Some(crate::results::truncate_bytes(error, 1024)),
        ..Message::default()
    })
}

fn to_json(message: &Message) -> String {
    // A struct of strings and numbers always serialises.
    serde_json::to_string(message).unwrap_or_default()
}

/// What the controller learns from the sidecar's termination message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handover {
    /// The whole report, checked.
    Inline(Vec<u8>),
    /// The report is in the sidecar's log: this many bytes with this SHA-256, gzipped to `gzip`.
    InLog {
        /// Size of the raw report.
        bytes: u64,
        /// SHA-256 of the raw report, hex.
        sha256: String,
        /// Size of the gzipped report.
        gzip: u64,
    },
    /// The runner wrote no report file.
    Missing,
    /// The report file had `bytes`, more than [`MAX_REPORT_BYTES`].
    TooLarge {
        /// Its size.
        bytes: u64,
    },
    /// The sidecar could not hand the report over; the text says why.
    Failed(String),
}

/// Why a handed-over report cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoverError {
    /// The termination message or the log is not in the hand-over format.
    #[error("the report hand-over is malformed: {0}")]
    Malformed(String),
    /// The bytes that arrived are not the ones the sidecar read.
    #[error(
        "the report arrived damaged: expected {expected_bytes} bytes with SHA-256 {expected_sha256}, got {bytes} bytes with SHA-256 {sha256}"
    )]
    Damaged {
        /// What the sidecar announced.
        expected_bytes: u64,
        /// What the sidecar announced.
        expected_sha256: String,
        /// What arrived.
        bytes: u64,
        /// What arrived.
        sha256: String,
    },
}

/// Reads the sidecar's termination message.
pub fn read_message(message: &str) -> Result<Handover, HandoverError> {
    let parsed: Message = serde_json::from_str(message.trim())
        .map_err(|e| HandoverError::Malformed(format!("termination message: {e}")))?;
    if parsed.v != 1 {
        return Err(HandoverError::Malformed(format!(
            "unknown protocol version {}",
            parsed.v
        )));
    }
    if parsed.missing {
        return Ok(Handover::Missing);
    }
    if let Some(error) = parsed.error {
        return Ok(Handover::Failed(error));
    }
    let bytes = parsed
        .bytes
        .ok_or_else(|| HandoverError::Malformed("no size".into()))?;
    if parsed.too_large {
        return Ok(Handover::TooLarge { bytes });
    }
    let sha256 = parsed
        .sha256
        .ok_or_else(|| HandoverError::Malformed("no SHA-256".into()))?;
    let gzip = parsed.gzip.unwrap_or_default();
    match parsed.data {
        Some(data) => Ok(Handover::Inline(unpack(data.as_bytes(), bytes, &sha256)?)),
        None => Ok(Handover::InLog {
            bytes,
            sha256,
            gzip,
        }),
    }
}

/// How many bytes of the sidecar's log hold a report gzipped to `gzip` bytes (the header, the
/// base64 lines and the end line), for the log request's `limitBytes`.
pub fn log_limit_bytes(gzip: u64) -> i64 {
    let base64 = gzip.div_ceil(3) * 4;
    let lines = base64.div_ceil(LINE_CHARS as u64) + 2;
    i64::try_from(base64 + lines + 512).unwrap_or(i64::MAX)
}

/// Decodes the report from the sidecar's log and checks it against the announced size and digest.
pub fn decode_log(log: &[u8], bytes: u64, sha256: &str) -> Result<Vec<u8>, HandoverError> {
    let text = std::str::from_utf8(log)
        .map_err(|_| HandoverError::Malformed("the sidecar's log is not text".into()))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .filter(|line| line.starts_with(MARK))
        .ok_or_else(|| HandoverError::Malformed("the sidecar's log has no report header".into()))?;
    if !header.contains(&format!("sha256={sha256}")) {
        return Err(HandoverError::Malformed(
            "the sidecar's log holds another report than its termination message names".into(),
        ));
    }
    let mut data = Vec::with_capacity(log.len());
    let mut ended = false;
    for line in lines {
        if line == format!("{MARK} end") {
            ended = true;
            break;
        }
        data.extend_from_slice(line.trim_end().as_bytes());
    }
    if !ended {
        return Err(HandoverError::Malformed(
            "the sidecar's log ends before the report does".into(),
        ));
    }
    unpack(&data, bytes, sha256)
}

/// base64 → gunzip (reading at most `bytes` + 1) → checks size and digest.
fn unpack(data: &[u8], bytes: u64, sha256: &str) -> Result<Vec<u8>, HandoverError> {
    let gzipped = STANDARD
        .decode(data)
        .map_err(|e| HandoverError::Malformed(format!("base64: {e}")))?;
    let mut raw = Vec::with_capacity(usize::try_from(bytes.min(MAX_REPORT_BYTES)).unwrap_or(0));
    GzDecoder::new(gzipped.as_slice())
        .take(bytes.min(MAX_REPORT_BYTES) + 1)
        .read_to_end(&mut raw)
        .map_err(|e| HandoverError::Malformed(format!("gzip: {e}")))?;
    let digest = sha256_hex(&raw);
    if raw.len() as u64 != bytes || digest != sha256 {
        return Err(HandoverError::Damaged {
            expected_bytes: bytes,
            expected_sha256: sha256.to_owned(),
            bytes: raw.len() as u64,
            sha256: digest,
        });
    }
    Ok(raw)
}

/// The sidecar's termination message in `pod`'s status, once the sidecar stopped.
pub fn sidecar_message(pod: &Pod) -> Option<&str> {
    let statuses = pod.status.as_ref()?.init_container_statuses.as_ref()?;
    let status = statuses.iter().find(|s| s.name == SIDECAR)?;
    let terminated = status
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| status.last_state.as_ref()?.terminated.as_ref())?;
    terminated.message.as_deref()
}

/// SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests;

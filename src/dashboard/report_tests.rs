//! Unit tests of reading stored reports and kept logs: ownership, gzip, bounds, file names.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ObjectMeta;

use super::*;
use crate::archive::{Report, archive};
use crate::crd::{TestId, TestJobSpec};

fn job(uid: &str) -> TestJob {
    let mut job = TestJob::new("smoke", TestJobSpec::new(TestId::Int(1)));
    job.metadata.namespace = Some("ns".into());
    job.metadata.uid = Some(uid.into());
    job
}

/// The ConfigMap and status the operator's archive makes for `report` and `log`.
fn archived(
    uid: &str,
    report: &[u8],
    format: &str,
    log: Option<&str>,
) -> (ConfigMap, ReportStatus) {
    let archive = archive(
        &job(uid),
        "smoke-1",
        Some(Report {
            bytes: report,
            format,
        }),
        log,
    )
    .expect("archive");
    (archive.config_map, archive.report.expect("status"))
}

#[test]
fn a_report_comes_back_byte_for_byte_only_to_its_owner() {
    let tap = b"1..2\nok 1 - a\nnot ok 2 - b\n";
    let (config_map, status) = archived("uid-1", tap, "TAP", None);
    assert_eq!(
        stored_report(&config_map, &status, "uid-1"),
        Ok(tap.to_vec())
    );
    // Another TestJob (or none) does not get it: not found, as if it did not exist.
    for uid in ["uid-2", ""] {
        let refused = stored_report(&config_map, &status, uid).expect_err("refused");
        assert_eq!(refused, Refused::NotOwned);
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    }
    // An ownerReference with the right uid but another kind is not the TestJob's.
    let mut forged = config_map.clone();
    if let Some(owners) = forged.metadata.owner_references.as_mut() {
        owners[0].kind = "Deployment".into();
        owners[0].api_version = "apps/v1".into();
    }
    assert_eq!(
        stored_report(&forged, &status, "uid-1"),
        Err(Refused::NotOwned)
    );
    let mut unowned = config_map;
    unowned.metadata.owner_references = None;
    assert_eq!(
        stored_report(&unowned, &status, "uid-1"),
        Err(Refused::NotOwned)
    );
}

#[test]
fn a_compressed_report_is_gunzipped_and_a_bomb_is_refused() {
    let big = b"<testcase name=\"x\"/>\n".repeat(60_000);
    let (config_map, status) = archived("uid-1", &big, "JUnit", Some("a log line\n"));
    assert!(status.compressed);
    assert_eq!(stored_report(&config_map, &status, "uid-1"), Ok(big));
    assert_eq!(
        kept_log(&config_map, "uid-1").as_deref(),
        Some("a log line\n")
    );
    assert_eq!(kept_log(&config_map, "uid-2"), None);

    // 17 MiB of zeros gzip to a few KiB: refused, not unpacked without bound.
    let bomb = crate::handover::gzip(&vec![0u8; MAX_REPORT_BYTES + (1 << 20)]);
    let mut config_map = config_map;
    config_map.binary_data = Some(BTreeMap::from([(status.key.clone(), ByteString(bomb))]));
    let refused = stored_report(&config_map, &status, "uid-1").expect_err("too large");
    assert_eq!(refused, Refused::TooLarge);
    assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);

    config_map.binary_data = Some(BTreeMap::from([(
        status.key.clone(),
        ByteString(b"not gzip".to_vec()),
    )]));
    assert!(matches!(
        stored_report(&config_map, &status, "uid-1"),
        Err(Refused::Damaged(_))
    ));
    config_map.binary_data = None;
    assert_eq!(
        stored_report(&config_map, &status, "uid-1"),
        Err(Refused::Missing)
    );
}

#[test]
fn a_kept_log_needs_its_owner_and_a_sane_size() {
    let (mut config_map, _) = archived("uid-1", b"1..0\n", "TAP", None);
    assert_eq!(kept_log(&config_map, "uid-1"), None, "no log kept");
    let huge = "x".repeat(MAX_LOG_BYTES + 1);
    config_map.data = Some(BTreeMap::from([(LOG_KEY.to_string(), huge)]));
    assert_eq!(kept_log(&config_map, "uid-1"), None);
    let empty = ConfigMap {
        metadata: ObjectMeta::default(),
        ..ConfigMap::default()
    };
    assert_eq!(kept_log(&empty, "uid-1"), None);
}

#[test]
fn downloads_are_named_and_typed_by_format() {
    assert_eq!(file_name("smoke", "TAP"), "smoke-report.tap");
    assert_eq!(file_name("a.b-c", "JUnit"), "a.b-c-report.xml");
    assert_eq!(file_name("x\"; evil=1", "JSON"), "xevil1-report.json");
    assert_eq!(file_type("JUnit").1, "application/xml");
    assert_eq!(file_type("TAP").1, "text/plain; charset=utf-8");
    assert_eq!(file_type("JSON").1, "application/json");
    assert_eq!(file_type("unknown"), ("txt", "application/octet-stream"));
}

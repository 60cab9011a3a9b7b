//! The hand-over round trip: small reports inline, large ones through the log, and every way the
//! bytes can arrive wrong.

use super::*;

/// Bytes that do not compress: a simple xorshift stream.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x & 0xff) as u8
        })
        .collect()
}

#[test]
fn a_small_report_travels_in_the_termination_message() {
    let report = b"TAP version 13\n1..2\nok 1 - a\nnot ok 2 - b\n".repeat(20);
    let encoded = encode(&report);
    assert!(encoded.log.is_none());
    assert!(
        encoded.message.len() <= MESSAGE_LIMIT,
        "{}",
        encoded.message.len()
    );
    assert_eq!(read_message(&encoded.message), Ok(Handover::Inline(report)));
}

#[test]
fn a_large_report_travels_in_the_log_and_arrives_byte_for_byte() {
    let report = noise(3 * 1024 * 1024 + 7);
    let encoded = encode(&report);
    assert!(encoded.message.len() <= MESSAGE_LIMIT);
    let Ok(Handover::InLog {
        bytes,
        sha256,
        gzip,
    }) = read_message(&encoded.message)
    else {
        panic!("expected InLog: {}", encoded.message);
    };
    assert_eq!(bytes, report.len() as u64);
    assert_eq!(sha256, sha256_hex(&report));
    let log = encoded.log.expect("a log");
    assert!(
        log.len() as i64 <= log_limit_bytes(gzip),
        "{} > {}",
        log.len(),
        log_limit_bytes(gzip)
    );
    assert!(log.lines().all(|l| l.len() <= LINE_CHARS));
    assert_eq!(decode_log(log.as_bytes(), bytes, &sha256), Ok(report));
}

#[test]
fn damaged_or_cut_logs_are_refused() {
    let report = noise(64 * 1024);
    let encoded = encode(&report);
    let log = encoded.log.expect("a log");
    let Ok(Handover::InLog { bytes, sha256, .. }) = read_message(&encoded.message) else {
        panic!("expected InLog");
    };
    // Cut: no end line.
    let cut = &log.as_bytes()[..log.len() / 2];
    assert!(matches!(
        decode_log(cut, bytes, &sha256),
        Err(HandoverError::Malformed(_))
    ));
    // Another report's digest.
    let other = sha256_hex(b"other");
    assert!(matches!(
        decode_log(log.as_bytes(), bytes, &other),
        Err(HandoverError::Malformed(_))
    ));
    // Announced size wrong: the digest check names both.
    let err = decode_log(log.as_bytes(), bytes - 1, &sha256).expect_err("damaged");
    assert!(matches!(err, HandoverError::Damaged { .. }), "{err}");
    // Not our format at all.
    assert!(decode_log(b"hello\n", bytes, &sha256).is_err());
    assert!(decode_log(&[0xff, 0xfe], bytes, &sha256).is_err());
}

#[test]
fn missing_too_large_and_unreadable_files_are_said_so() {
    assert_eq!(read_message(&encode_missing()), Ok(Handover::Missing));
    assert_eq!(
        read_message(&encode_too_large(20 << 20)),
        Ok(Handover::TooLarge { bytes: 20 << 20 })
    );
    let long = "x".repeat(5000);
    let message = encode_error(&long);
    assert!(message.len() < MESSAGE_LIMIT);
    assert!(matches!(read_message(&message), Ok(Handover::Failed(_))));
    for bad in [
        "",
        "not json",
        r#"{"v":2}"#,
        r#"{"v":1}"#,
        r#"{"v":1,"bytes":3}"#,
    ] {
        assert!(read_message(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_inline_report_whose_bytes_were_tampered_with_is_refused() {
    let encoded = encode(b"1..1\nok 1\n");
    let tampered = encoded.message.replace("\"bytes\":10", "\"bytes\":11");
    assert!(matches!(
        read_message(&tampered),
        Err(HandoverError::Damaged { .. })
    ));
}

#[test]
fn a_gzip_bomb_is_read_no_further_than_the_announced_size() {
    // 64 MiB of zeros gzip to ~64 KiB; announced as 10 bytes, only 11 are ever inflated.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    let data = STANDARD.encode(&bomb);
    let err = unpack(data.as_bytes(), 10, &sha256_hex(&[0; 10])).expect_err("damaged");
    assert!(
        matches!(err, HandoverError::Damaged { bytes: 11, .. }),
        "{err}"
    );
}

#[test]
fn the_sidecars_message_is_found_in_the_init_container_statuses() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "status": {"initContainerStatuses": [
            {"name": "report", "ready": false, "restartCount": 0, "image": "x", "imageID": "",
             "state": {"terminated": {"exitCode": 0, "message": "{\"v\":1,\"missing\":true}"}}}
        ]}
    }))
    .expect("a pod");
    assert_eq!(sidecar_message(&pod), Some("{\"v\":1,\"missing\":true}"));
    assert_eq!(sidecar_message(&Pod::default()), None);
}

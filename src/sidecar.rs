//! `testjob-operator report-sidecar`: the process of a runner Pod's `report` sidecar (see
//! [`crate::handover`]). It idles until the kubelet stops it — once the runner has exited, or
//! when the Pod is stopped — then reads the report file and hands it over through its
//! termination message and, for a large report, its log. It needs no API access.
//!
//! With `--wait-ready` the same command is the sidecar's postStart hook: it waits until the
//! sidecar listens for SIGTERM (it wrote `--ready-file`), which holds the runner's start until
//! then — the kubelet starts the next container only once a container's postStart hook is done.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::Context as _;

use crate::handover::{self, MAX_REPORT_BYTES, REPORT_FILE};

/// How often the postStart hook looks for the ready file.
const READY_POLL: Duration = Duration::from_millis(5);

/// Flags of `testjob-operator report-sidecar`.
#[derive(clap::Args, Debug)]
pub struct SidecarArgs {
    /// The report file the runner writes.
    #[arg(long, default_value = REPORT_FILE)]
    pub file: PathBuf,
    /// The container's `terminationMessagePath`.
    #[arg(long, default_value = "/dev/termination-log")]
    pub termination_log: PathBuf,
    /// Written once the sidecar listens for SIGTERM.
    #[arg(long)]
    pub ready_file: Option<PathBuf>,
    /// Be the postStart hook instead: wait until `--ready-file` exists, then exit.
    #[arg(long, requires = "ready_file")]
    pub wait_ready: bool,
    /// With `--wait-ready`: give up (exit code 1, so the kubelet restarts the sidecar) after this
    /// many seconds.
    #[arg(long, default_value_t = 60)]
    pub wait_seconds: u64,
}

/// Waits for SIGTERM, then hands the report over (or, with `--wait-ready`, waits for the
/// sidecar to be ready).
pub async fn run(args: SidecarArgs) -> anyhow::Result<()> {
    if args.wait_ready {
        let file = args.ready_file.as_deref().unwrap_or(Path::new(""));
        return wait_ready(file, Duration::from_secs(args.wait_seconds));
    }
    // Listen first, then say so: a SIGTERM before the handler would end the process unheard.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("listening for SIGTERM")?;
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, b"")
            .with_context(|| format!("writing the ready file {}", ready.display()))?;
    }
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    hand_over(
        &args.file,
        &args.termination_log,
        &mut std::io::stdout().lock(),
    )
}

/// Hands the report at `file` over: the termination message to `termination_log`, a large
/// report to `log`.
pub fn hand_over(file: &Path, termination_log: &Path, log: &mut impl Write) -> anyhow::Result<()> {
    let message = match read_bounded(file) {
        Ok(Some(report)) => {
            let encoded = handover::encode(&report);
            if let Some(text) = &encoded.log {
                log.write_all(text.as_bytes())?;
                log.flush()?;
            }
            encoded.message
        }
        Ok(None) => handover::encode_missing(),
        Err(Unread::TooLarge(bytes)) => handover::encode_too_large(bytes),
        Err(Unread::Failed(error)) => handover::encode_error(&error),
    };
    std::fs::write(termination_log, message)?;
    Ok(())
}

/// The postStart hook: returns once `file` exists, fails after `timeout`.
fn wait_ready(file: &Path, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !file.exists() {
        if Instant::now() >= deadline {
            anyhow::bail!(
                "the report sidecar did not write {} within {timeout:?}",
                file.display()
            );
        }
        std::thread::sleep(READY_POLL);
    }
    Ok(())
}

/// Why the report file was not read.
enum Unread {
    TooLarge(u64),
    Failed(String),
}

/// The report, `None` when there is no file; never more than [`MAX_REPORT_BYTES`].
fn read_bounded(file: &Path) -> Result<Option<Vec<u8>>, Unread> {
    let opened = match std::fs::File::open(file) {
        Ok(opened) => opened,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Unread::Failed(format!(
                "cannot open {}: {error}",
                file.display()
            )));
        }
    };
    let mut report = Vec::new();
    opened
        .take(MAX_REPORT_BYTES + 1)
        .read_to_end(&mut report)
        .map_err(|error| Unread::Failed(format!("cannot read {}: {error}", file.display())))?;
    if report.len() as u64 > MAX_REPORT_BYTES {
        let size = std::fs::metadata(file).map_or(report.len() as u64, |m| m.len());
        return Err(Unread::TooLarge(size));
    }
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handover::{Handover, read_message};

    #[test]
    fn hands_over_what_it_finds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("report");
        let message = dir.path().join("termination-log");
        let mut log = Vec::new();

        hand_over(&file, &message, &mut log).expect("no file");
        let read = |path: &Path| read_message(&std::fs::read_to_string(path).expect("message"));
        assert_eq!(read(&message), Ok(Handover::Missing));
        assert!(log.is_empty());

        std::fs::write(&file, b"1..1\nok 1 - fine\n").expect("write");
        hand_over(&file, &message, &mut log).expect("small");
        assert_eq!(
            read(&message),
            Ok(Handover::Inline(b"1..1\nok 1 - fine\n".to_vec()))
        );
        assert!(log.is_empty());

        let big: Vec<u8> = (0..2_000_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(&file, &big).expect("write");
        hand_over(&file, &message, &mut log).expect("large");
        let Ok(Handover::InLog { bytes, sha256, .. }) = read(&message) else {
            panic!("expected InLog");
        };
        assert_eq!(handover::decode_log(&log, bytes, &sha256), Ok(big));
    }

    #[test]
    fn the_hook_waits_for_the_ready_file_and_gives_up_at_its_deadline() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ready = dir.path().join("ready");
        let failed = wait_ready(&ready, Duration::from_millis(30)).expect_err("no file");
        assert!(failed.to_string().contains("did not write"), "{failed}");
        std::fs::write(&ready, b"").expect("write");
        wait_ready(&ready, Duration::ZERO).expect("the file is there");
    }

    #[test]
    fn a_file_over_the_limit_is_not_handed_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("report");
        let handle = std::fs::File::create(&file).expect("create");
        handle.set_len(MAX_REPORT_BYTES + 10).expect("sparse file");
        let message = dir.path().join("termination-log");
        let mut log = Vec::new();
        hand_over(&file, &message, &mut log).expect("hand over");
        let said = std::fs::read_to_string(&message).expect("message");
        assert_eq!(
            read_message(&said),
            Ok(Handover::TooLarge {
                bytes: MAX_REPORT_BYTES + 10
            })
        );
        assert!(log.is_empty());
    }
}

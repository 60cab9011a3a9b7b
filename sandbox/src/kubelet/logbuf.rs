//! Container log storage and `pods/log` reading for the sandbox kubelet.
//!
//! Each container instance gets one [`LogBuffer`]: stdout and stderr lines interleaved in arrival order, each
//! stamped when it arrived, as the CRI log file a real runtime writes. Reading follows the kubelet's CRI log
//! reader (`pkg/kubelet/kuberuntime/logs/logs.go`): `tailLines` picks the start, `sinceSeconds` skips older
//! lines, `timestamps` prefixes RFC3339Nano with nine fixed digits, `limitBytes` cuts the output (timestamps
//! included), and `follow` keeps streaming until the instance stops.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::watch;

/// Kept per container instance, as the kubelet's default `containerLogMaxSize` (10Mi); older lines are dropped
/// like a rotated-away file.
const MAX_LOG_BYTES: usize = 10 * 1024 * 1024;
/// containerd splits longer lines into partial entries of this size.
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Upper bound of one chunk handed to the HTTP body, so a large log streams instead of arriving as one blob.
const MAX_CHUNK_BYTES: usize = 64 * 1024;

#[derive(Debug)]
struct Line {
    ts: DateTime<Utc>,
    data: Bytes,
}

#[derive(Debug, Default)]
struct Inner {
    lines: VecDeque<Line>,
    /// Sequence number of `lines[0]`; readers keep absolute positions so dropping old lines cannot shift them.
    first_seq: u64,
    bytes: usize,
    closed: bool,
}

impl Inner {
    fn end_seq(&self) -> u64 {
        self.first_seq + self.lines.len() as u64
    }
}

/// The log of one container instance.
#[derive(Debug)]
pub(super) struct LogBuffer {
    inner: Mutex<Inner>,
    changed: watch::Sender<()>,
}

fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // A panic while holding this lock cannot leave the deque half-updated in a way readers mind.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl LogBuffer {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner::default()),
            changed: watch::Sender::new(()),
        })
    }

    /// Appends one log entry (a line with its `\n`, or a final/partial piece without).
    pub(super) fn push(&self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        {
            let mut inner = lock(&self.inner);
            if inner.closed {
                return;
            }
            inner.bytes += data.len();
            inner.lines.push_back(Line {
                ts: Utc::now(),
                data,
            });
            while inner.bytes > MAX_LOG_BYTES && inner.lines.len() > 1 {
                if let Some(old) = inner.lines.pop_front() {
                    inner.bytes -= old.data.len();
                    inner.first_seq += 1;
                }
            }
        }
        self.changed.send_modify(|_| ());
    }

    /// Appends text, split into lines as a process writing it would produce.
    pub(super) fn push_text(&self, text: &str) {
        let mut assembler = LineAssembler::default();
        assembler.feed(text.as_bytes(), self);
        assembler.finish(self);
    }

    /// Marks the instance as stopped: followers drain what is left and end.
    pub(super) fn close(&self) {
        lock(&self.inner).closed = true;
        self.changed.send_modify(|_| ());
    }

    /// The tail used for `FallbackToLogsOnError`: the last `max_lines` entries, of which the last `max_bytes`
    /// bytes are kept (the kubelet reads the tail into a ring buffer of that size).
    pub(super) fn tail_text(&self, max_lines: usize, max_bytes: usize) -> String {
        let inner = lock(&self.inner);
        let skip = inner.lines.len().saturating_sub(max_lines);
        let mut out: Vec<u8> = Vec::new();
        for line in inner.lines.iter().skip(skip) {
            out.extend_from_slice(&line.data);
        }
        let cut = out.len().saturating_sub(max_bytes);
        String::from_utf8_lossy(&out[cut..]).into_owned()
    }

    /// Everything still held, without timestamps.
    #[cfg(test)]
    pub(super) fn contents(&self) -> String {
        let inner = lock(&self.inner);
        let bytes: Vec<u8> = inner
            .lines
            .iter()
            .flat_map(|l| l.data.iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Turns the byte chunks read from a pipe into log entries: complete lines, lines longer than containerd's
/// 16 KiB split into pieces, and what is left at end of stream.
#[derive(Debug, Default)]
pub(super) struct LineAssembler {
    partial: BytesMut,
}

impl LineAssembler {
    pub(super) fn feed(&mut self, mut chunk: &[u8], log: &LogBuffer) {
        while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&chunk[..=pos]);
            let line = self.partial.split().freeze();
            self.push_split(line, log);
            chunk = &chunk[pos + 1..];
        }
        self.partial.extend_from_slice(chunk);
        while self.partial.len() >= MAX_LINE_BYTES {
            let piece = self.partial.split_to(MAX_LINE_BYTES).freeze();
            log.push(piece);
        }
    }

    pub(super) fn finish(&mut self, log: &LogBuffer) {
        let rest = self.partial.split().freeze();
        log.push(rest);
    }

    fn push_split(&self, mut line: Bytes, log: &LogBuffer) {
        while line.len() > MAX_LINE_BYTES {
            log.push(line.split_to(MAX_LINE_BYTES));
        }
        log.push(line);
    }
}

/// What a `pods/log` read asks for, already resolved against the clock.
#[derive(Debug, Clone, Default)]
pub(super) struct ReadOptions {
    pub follow: bool,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
    pub timestamps: bool,
    pub since: Option<DateTime<Utc>>,
}

struct Reader {
    buf: Arc<LogBuffer>,
    rx: watch::Receiver<()>,
    next: u64,
    /// Without follow, the read stops at the end the log had when the request came in.
    stop_at: Option<u64>,
    remaining: Option<u64>,
    opts: ReadOptions,
}

impl Reader {
    /// Formats the next lines into one chunk; also says whether the instance has stopped.
    fn collect(&mut self) -> (Bytes, bool) {
        let inner = lock(&self.buf.inner);
        if self.next < inner.first_seq {
            self.next = inner.first_seq;
        }
        let upper = self
            .stop_at
            .map_or(inner.end_seq(), |s| s.min(inner.end_seq()));
        let mut out = BytesMut::new();
        while self.next < upper && out.len() < MAX_CHUNK_BYTES && self.remaining != Some(0) {
            let idx = (self.next - inner.first_seq) as usize;
            self.next += 1;
            let Some(line) = inner.lines.get(idx) else {
                break;
            };
            if self.opts.since.is_some_and(|since| line.ts < since) {
                continue;
            }
            let mut piece = BytesMut::new();
            if self.opts.timestamps {
                piece.extend_from_slice(
                    line.ts
                        .to_rfc3339_opts(SecondsFormat::Nanos, true)
                        .as_bytes(),
                );
                piece.extend_from_slice(b" ");
            }
            piece.extend_from_slice(&line.data);
            if let Some(remaining) = self.remaining.as_mut() {
                let keep = piece
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                piece.truncate(keep);
                *remaining -= keep as u64;
            }
            out.extend_from_slice(&piece);
        }
        (out.freeze(), inner.closed)
    }

    fn exhausted(&self) -> bool {
        self.remaining == Some(0) || self.stop_at.is_some_and(|s| self.next >= s)
    }
}

/// Streams a container log as the kubelet serves it.
pub(super) fn read(buf: Arc<LogBuffer>, opts: ReadOptions) -> BoxStream<'static, Bytes> {
    let rx = buf.changed.subscribe();
    let (start, end) = {
        let inner = lock(&buf.inner);
        let end = inner.end_seq();
        let start = match opts.tail_lines {
            Some(tail) if tail >= 0 => end.saturating_sub(tail as u64).max(inner.first_seq),
            _ => inner.first_seq,
        };
        (start, end)
    };
    let remaining = opts.limit_bytes.map(|b| u64::try_from(b).unwrap_or(0));
    let reader = Reader {
        buf,
        rx,
        next: start,
        stop_at: if opts.follow { None } else { Some(end) },
        remaining,
        opts,
    };
    stream::unfold(reader, |mut reader| async move {
        loop {
            if reader.exhausted() {
                return None;
            }
            reader.rx.borrow_and_update();
            let (chunk, closed) = reader.collect();
            if !chunk.is_empty() {
                return Some((chunk, reader));
            }
            if reader.exhausted() || !reader.opts.follow {
                return None;
            }
            if closed {
                // `collect` saw the close under the same lock as the lines, so nothing is left behind.
                return None;
            }
            if reader.rx.changed().await.is_err() {
                return None;
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(buf: &Arc<LogBuffer>, opts: ReadOptions) -> String {
        let chunks: Vec<Bytes> = read(buf.clone(), opts).collect().await;
        String::from_utf8(chunks.concat()).unwrap_or_default()
    }

    fn sample() -> Arc<LogBuffer> {
        let buf = LogBuffer::new();
        buf.push_text("one\ntwo\nthree\nfour");
        buf
    }

    #[tokio::test]
    async fn plain_read_returns_everything_including_an_unterminated_last_line() {
        assert_eq!(
            read_all(&sample(), ReadOptions::default()).await,
            "one\ntwo\nthree\nfour"
        );
    }

    #[tokio::test]
    async fn tail_lines_and_limit_bytes() {
        let buf = sample();
        let tail = ReadOptions {
            tail_lines: Some(2),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, tail).await, "three\nfour");
        let zero = ReadOptions {
            tail_lines: Some(0),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, zero).await, "");
        let limit = ReadOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, limit).await, "one\ntw");
    }

    #[tokio::test]
    async fn timestamps_use_nine_fixed_fraction_digits_and_count_against_the_limit() {
        let buf = LogBuffer::new();
        buf.push_text("hi\n");
        let opts = ReadOptions {
            timestamps: true,
            ..Default::default()
        };
        let out = read_all(&buf, opts).await;
        let (ts, rest) = out.split_once(' ').unwrap_or_default();
        assert_eq!(rest, "hi\n");
        assert_eq!(ts.len(), "2006-01-02T15:04:05.000000000Z".len(), "{ts}");
        assert!(DateTime::parse_from_rfc3339(ts).is_ok());
        let limited = ReadOptions {
            timestamps: true,
            limit_bytes: Some(4),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, limited).await, &ts[..4]);
    }

    #[tokio::test]
    async fn since_skips_older_lines() {
        let buf = sample();
        let future = ReadOptions {
            since: Some(Utc::now() + chrono::Duration::seconds(5)),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, future).await, "");
        let past = ReadOptions {
            since: Some(Utc::now() - chrono::Duration::seconds(5)),
            ..Default::default()
        };
        assert_eq!(read_all(&buf, past).await, "one\ntwo\nthree\nfour");
    }

    #[tokio::test]
    async fn follow_streams_new_lines_until_closed() {
        let buf = LogBuffer::new();
        buf.push_text("a\n");
        let opts = ReadOptions {
            follow: true,
            ..Default::default()
        };
        let reader = tokio::spawn(read_all_owned(buf.clone(), opts));
        tokio::task::yield_now().await;
        buf.push_text("b\n");
        buf.close();
        let out = tokio::time::timeout(std::time::Duration::from_secs(5), reader).await;
        assert_eq!(out.ok().and_then(|r| r.ok()).as_deref(), Some("a\nb\n"));
    }

    async fn read_all_owned(buf: Arc<LogBuffer>, opts: ReadOptions) -> String {
        read_all(&buf, opts).await
    }

    #[test]
    fn tail_text_keeps_last_lines_then_last_bytes() {
        let buf = LogBuffer::new();
        for i in 0..100 {
            buf.push_text(&format!("line {i}\n"));
        }
        let tail = buf.tail_text(80, 2048);
        assert!(
            tail.starts_with("line 20\n") && tail.ends_with("line 99\n"),
            "{tail}"
        );
        assert_eq!(buf.tail_text(80, 8), "line 99\n");
    }

    #[test]
    fn long_lines_are_split_like_containerd_partials() {
        let buf = LogBuffer::new();
        let long = "x".repeat(MAX_LINE_BYTES + 10) + "\n";
        buf.push_text(&long);
        assert_eq!(lock(&buf.inner).lines.len(), 2);
        assert_eq!(buf.contents(), long);
    }
}

//! Test reports of any size: JUnit XML, TAP and our own JSON, read from untrusted runner output.
//!
//! [`parse`] turns the bytes of a report into exact counts ([`Summary`]) and a bounded list of
//! results for `status.results` (see [`bound`] for the rule), plus a message saying what was odd.
//! Every parser streams over the bytes: it counts every test but keeps only the bounded results,
//! so parsing holds the report itself plus a small constant, whatever the report says. Nothing
//! in a report is ever resolved or fetched (XML entities and DTDs are ignored).
//!
//! Auto-detection ([`detect`]) looks at the first non-blank bytes (after a UTF-8 byte order mark):
//! `{` or `[` is JSON; `<` is XML, read as JUnit; otherwise, a line in the first 64 KiB that
//! starts (unindented) with `TAP version N`, a plan `1..N`, `ok`, `not ok`, `Bail out!` or
//! `pragma` makes it TAP (other lines, such as a warning printed before the plan, are ignored
//! as TAP readers ignore them). Anything else is not a report.

mod bound;
mod json;
mod junit;
#[doc(hidden)]
pub mod samples;
mod tap;
#[cfg(test)]
mod tests;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use bound::{Bounder, Limits, bound};

use crate::crd::{Summary, TestResult};

/// The largest report [`parse`] reads; larger ones are refused before any parsing.
pub const MAX_REPORT_BYTES: usize = 16 * 1024 * 1024;
/// Longest [`Parsed::message`].
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// How many bytes of an unrecognised report are quoted back.
const PREVIEW_BYTES: usize = 32;

/// What a report is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Our own `{"results": [...], "message": ...}` (see [`crate::results`]).
    Json,
    /// JUnit XML (`<testsuites>` or `<testsuite>`), as pytest, Surefire, jest-junit, go-junit-report write it.
    JUnit,
    /// Test Anything Protocol 12, 13 or 14 (Perl's Test::More, node-tap, bats …).
    Tap,
}

impl Format {
    /// The name used in `spec.report.format` and `status.report.format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::JUnit => "JUnit",
            Format::Tap => "TAP",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts of the results left out of [`Parsed::results`], by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Omitted {
    /// Passed results left out.
    pub passed: i32,
    /// Failed results left out.
    pub failed: i32,
    /// Skipped results left out.
    pub skipped: i32,
    /// Errored results left out.
    pub error: i32,
}

impl Omitted {
    /// All results left out.
    pub fn total(&self) -> i32 {
        self.passed
            .saturating_add(self.failed)
            .saturating_add(self.skipped)
            .saturating_add(self.error)
    }
}

/// What a report says.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// What the report was written in.
    pub format: Format,
    /// Exact counts of every test in the report (`error` counts as failed).
    pub summary: Summary,
    /// At most [`Limits::max_entries`] results, failures and errors first, cut to fit (see [`bound`]).
    pub results: Vec<TestResult>,
    /// Counts of the results not in `results`.
    pub omitted: Omitted,
    /// The report's own message and anything odd about it (plan mismatch, bail out, truncation …),
    /// at most [`MAX_MESSAGE_BYTES`].
    pub message: Option<String>,
}

/// A report that could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Larger than [`MAX_REPORT_BYTES`].
    #[error("the report is too large ({bytes} bytes; the limit is {max} bytes)")]
    TooLarge {
        /// Size of the report.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Empty or only whitespace.
    #[error("the report is empty")]
    Empty,
    /// Not UTF-8 text.
    #[error("invalid UTF-8 at byte {at}: a report must be UTF-8 text")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        at: usize,
    },
    /// Auto-detection found no known format.
    #[error("unrecognised report format (first bytes: {preview}); expected JUnit XML, TAP or JSON")]
    Unrecognised {
        /// The first bytes, escaped.
        preview: String,
    },
    /// Not a readable JUnit XML report.
    #[error("not a JUnit XML report: {0}")]
    NotJUnit(String),
    /// Not a readable TAP stream.
    #[error("not a TAP report: {0}")]
    NotTap(String),
    /// Not a readable JSON report.
    #[error("not a JSON report: {0}")]
    NotJson(String),
}

/// Reads a report in `format`, or in the detected format when `format` is `None` (`Auto`), with
/// the default [`Limits`].
pub fn parse(bytes: &[u8], format: Option<Format>) -> Result<Parsed, ReportError> {
    parse_with(bytes, format, &Limits::default())
}

/// [`parse`] with other limits for `results`.
pub fn parse_with(
    bytes: &[u8],
    format: Option<Format>,
    limits: &Limits,
) -> Result<Parsed, ReportError> {
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(ReportError::TooLarge {
            bytes: bytes.len(),
            max: MAX_REPORT_BYTES,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|error| ReportError::InvalidUtf8 {
        at: error.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ReportError::Empty);
    }
    let format = match format {
        Some(format) => format,
        None => detect(text.as_bytes()).ok_or_else(|| ReportError::Unrecognised {
            preview: preview(text.as_bytes()),
        })?,
    };
    let mut bounder = Bounder::new(limits.clone());
    let notes = match format {
        Format::Json => json::parse(text, &mut bounder)?,
        Format::JUnit => junit::parse(text, &mut bounder)?,
        Format::Tap => tap::parse(text, &mut bounder)?,
    };
    let (results, omitted, summary) = bounder.finish();
    Ok(Parsed {
        format,
        summary,
        results,
        omitted,
        message: notes.message(),
    })
}

/// Sniffs the format of a report (see the module documentation for the rules).
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    match bytes[start] {
        b'{' | b'[' => return Some(Format::Json),
        b'<' => return Some(Format::JUnit),
        _ => {}
    }
    // Only the start is sniffed, so a huge report costs nothing more here. Lines that are not
    // TAP (a warning on stderr before the plan, say) are skipped, as a TAP reader ignores them.
    let head = &bytes[..bytes.len().min(64 * 1024)];
    head.split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .any(tap::is_tap_line)
        .then_some(Format::Tap)
}

/// What a parser found odd, joined into [`Parsed::message`].
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// The report's own message, first.
    own: Option<String>,
    /// Oddities, in the order found.
    notes: Vec<String>,
}

impl Notes {
    /// Sets the report's own message.
    fn own(&mut self, message: String) {
        self.own = Some(message);
    }

    /// Adds an oddity (a few at most per report, so this stays small).
    fn add(&mut self, note: impl Into<String>) {
        if self.notes.len() < 8 {
            self.notes.push(note.into());
        }
    }

    fn message(self) -> Option<String> {
        let parts: Vec<String> = self.own.into_iter().chain(self.notes).collect();
        (!parts.is_empty())
            .then(|| crate::results::truncate_bytes(&parts.join("; "), MAX_MESSAGE_BYTES))
    }
}

/// The first bytes of `bytes`, escaped for a one-line message.
fn preview(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(PREVIEW_BYTES)];
    let text: String = String::from_utf8_lossy(head).escape_debug().collect();
    if bytes.len() > PREVIEW_BYTES {
        format!("\"{text}…\"")
    } else {
        format!("\"{text}\"")
    }
}

/// The first `max` bytes of `text` on a character boundary (no marker; for bounded buffers).
pub(crate) fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let end = (0..=max)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[..end]
}

/// Appends `text` to `buffer` while `buffer` is shorter than `max` bytes.
pub(crate) fn push_bounded(buffer: &mut String, text: &str, max: usize) {
    let room = max.saturating_sub(buffer.len());
    if room > 0 {
        buffer.push_str(prefix(text, room));
    }
}

//! TAP (Test Anything Protocol 12, 13 and 14) streams, read line by line.
//!
//! Hand-written: crates.io has `testanything` (a TAP writer) and `tap-parser` (a single 0.1
//! release), neither a maintained, bounded TAP 14 reader, and the grammar is a handful of line
//! shapes.
//! Semantics:
//! - `TAP version N` is optional; the plan `1..N` may come first or last; `1..0 # SKIP why`
//!   means every test was skipped (nothing is counted and the message says why).
//! - `ok`/`not ok`, an optional number and an optional description (`- ` stripped; `\#` is a
//!   literal `#`). `# SKIP why` → skipped. `# TODO why`: a `not ok` is an expected failure and
//!   counts as skipped, an `ok` counts as passed (TAP says neither fails the run); the message
//!   says how many there were.
//! - A failure's message comes from its YAML diagnostics block (`  ---` … `  ...`, key
//!   `message`, else the block itself) or else from the `#` comment lines after it (where
//!   Test::More writes `Failed test … got … expected …`), cut to a few KiB.
//! - Subtests (indented lines, TAP 14 and Test::More's `# Subtest: name`) are not counted: the
//!   parent's own `ok`/`not ok` line counts once, as `prove` counts it and as the plan does; a
//!   failing parent's message names its first failing subtest.
//! - `Bail out! why` stops the stream: the tests that ran are counted, the bail out itself is
//!   one failed result named `Bail out!`, and the planned tests that never ran are not counted
//!   (the message says how many of the plan ran).
//! - A missing plan, or one that does not match the tests that ran, is reported in the message,
//!   as is test numbering out of sequence and a last line cut without a newline.
//! - Any other line is ignored, as TAP asks.

use super::{Bounder, Notes, ReportError, push_bounded};
use crate::crd::{ResultStatus, TestResult};
use crate::results::preview;

/// Most bytes of a failure's message collected from diagnostics.
const MAX_MESSAGE_READ: usize = 4096;
/// Most bytes of one YAML diagnostics block read (the rest of the block is skipped).
const MAX_YAML_READ: usize = 64 * 1024;

/// Whether a (non-indented) line is one that only TAP writes.
pub(super) fn is_tap_line(line: &[u8]) -> bool {
    line.starts_with(b"TAP version ")
        || line.starts_with(b"Bail out!")
        || line.starts_with(b"pragma ")
        || line
            .strip_prefix(b"1..")
            .is_some_and(|rest| rest.first().is_some_and(u8::is_ascii_digit))
        || [&b"ok"[..], b"not ok"].iter().any(|word| {
            line.strip_prefix(*word)
                .is_some_and(|rest| rest.is_empty() || matches!(rest[0], b' ' | b'\t' | b'#'))
        })
}

/// A parsed `ok`/`not ok` line.
struct TestLine<'a> {
    ok: bool,
    number: Option<u64>,
    description: String,
    directive: Option<(Directive, &'a str)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Directive {
    Skip,
    Todo,
}

fn test_line(line: &str) -> Option<TestLine<'_>> {
    let (ok, rest) = match line.strip_prefix("not ok") {
        Some(rest) => (false, rest),
        None => (true, line.strip_prefix("ok")?),
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t', '#'])) {
        return None;
    }
    let rest = rest.trim_start();
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let number = rest[..digits].parse().ok();
    let rest = &rest[digits..];
    // The description runs to the first unescaped `#` that starts a SKIP or TODO directive.
    let mut description = String::new();
    let mut directive = None;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('#' | '\\'))) => description.push(escaped),
                Some((_, other)) => {
                    description.push('\\');
                    description.push(other);
                }
                None => description.push('\\'),
            },
            '#' => {
                if let Some(found) = parse_directive(&rest[i + 1..]) {
                    directive = Some(found);
                    break;
                }
                description.push('#');
            }
            c => description.push(c),
        }
    }
    let description = description.trim();
    let description = description
        .strip_prefix("- ")
        .or_else(|| description.strip_prefix('-'))
        .unwrap_or(description)
        .trim()
        .to_owned();
    Some(TestLine {
        ok,
        number,
        description,
        directive,
    })
}

/// `SKIP why` or `TODO why` (any case; `skipped` too), after a `#`.
fn parse_directive(text: &str) -> Option<(Directive, &str)> {
    let text = text.trim_start();
    let word_len = text.len()
        - text
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .len();
    let word = text[..word_len].to_ascii_lowercase();
    let directive = if word.starts_with("skip") {
        Directive::Skip
    } else if word == "todo" {
        Directive::Todo
    } else {
        return None;
    };
    Some((directive, text[word_len..].trim_start_matches(':').trim()))
}

/// `1..N` with an optional `# reason`.
fn plan_line(line: &str) -> Option<(Option<u64>, &str)> {
    let rest = line.strip_prefix("1..")?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    let count = rest[..digits].parse().ok();
    let reason = rest[digits..].trim_start();
    let reason = reason.strip_prefix('#').map(str::trim).unwrap_or("");
    Some((count, reason))
}

/// What follows a test line and can still change its message.
#[derive(Default)]
struct Pending {
    result: Option<TestResult>,
    /// Inside its YAML block, with the block read so far.
    yaml: Option<String>,
    /// Whether its message came from a YAML block (comments are then not added).
    from_yaml: bool,
    /// Whether `#` comment lines still belong to it.
    comments: bool,
}

impl Pending {
    fn is_failure(&self) -> bool {
        self.result
            .as_ref()
            .is_some_and(|r| r.status == ResultStatus::Failed)
    }

    fn append(&mut self, text: &str) {
        if let Some(result) = &mut self.result {
            let message = result.message.get_or_insert_with(String::new);
            if !message.is_empty() {
                push_bounded(message, "\n", MAX_MESSAGE_READ);
            }
            push_bounded(message, text, MAX_MESSAGE_READ);
        }
    }

    fn end_yaml(&mut self) {
        let Some(block) = self.yaml.take() else {
            return;
        };
        if !self.is_failure() {
            return;
        }
        let message = match serde_yaml::from_str::<serde_yaml::Value>(&block) {
            Ok(serde_yaml::Value::Mapping(map)) => match map.get("message") {
                Some(serde_yaml::Value::String(m)) => Some(m.trim().to_owned()),
                Some(serde_yaml::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            _ => None,
        }
        .unwrap_or_else(|| block.trim().to_owned());
        if !message.is_empty() {
            if let Some(result) = &mut self.result {
                result.message = Some(super::prefix(&message, MAX_MESSAGE_READ).to_owned());
            }
            self.from_yaml = true;
        }
    }

    fn flush(&mut self, bounder: &mut Bounder) {
        self.end_yaml();
        if let Some(result) = self.result.take() {
            bounder.push(result);
        }
        *self = Pending::default();
    }
}

/// Reads a TAP stream into `bounder`.
pub(super) fn parse(text: &str, bounder: &mut Bounder) -> Result<Notes, ReportError> {
    let mut notes = Notes::default();
    let mut pending = Pending::default();
    let mut plans: Vec<(Option<u64>, String)> = Vec::new();
    let mut ran = 0u64;
    let mut out_of_sequence = false;
    let mut todo_failed = 0u64;
    let mut todo_passed = 0u64;
    let mut bailed = false;
    let mut subtest_failure: Option<String> = None;
    let mut seen_tap = false;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let indented = line.starts_with([' ', '\t']);
        if let Some(block) = &mut pending.yaml {
            if indented && line.trim() == "..." {
                pending.end_yaml();
            } else if indented || line.trim().is_empty() {
                push_bounded(block, line, MAX_YAML_READ);
                push_bounded(block, "\n", MAX_YAML_READ);
            } else {
                // A block never closed: the first line that is not indented ends it.
                pending.end_yaml();
            }
            if pending.yaml.is_some() || indented {
                continue;
            }
        }
        if indented {
            let inner = line.trim_start();
            if inner == "---" && pending.result.is_some() && !pending.from_yaml {
                pending.yaml = Some(String::new());
                pending.comments = false;
            } else if let Some(test) = test_line(inner)
                && !test.ok
                && test.directive.is_none()
            {
                subtest_failure
                    .get_or_insert_with(|| super::prefix(&test.description, 256).to_owned());
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim();
            if comment.starts_with("Subtest:") {
                pending.comments = false;
            } else if pending.comments
                && pending.is_failure()
                && !pending.from_yaml
                && !comment.is_empty()
                && !comment.starts_with("Looks like you")
            {
                pending.append(comment);
            }
            continue;
        }
        if let Some(test) = test_line(line) {
            seen_tap = true;
            pending.flush(bounder);
            ran += 1;
            if let Some(number) = test.number
                && number != ran
                && !out_of_sequence
            {
                out_of_sequence = true;
                notes.add(format!(
                    "test number {number} out of sequence (expected {ran})"
                ));
            }
            let name = if test.description.is_empty() {
                format!("test {}", test.number.unwrap_or(ran))
            } else {
                test.description
            };
            let (status, message) = match (test.ok, test.directive) {
                (_, Some((Directive::Skip, why))) => (
                    ResultStatus::Skipped,
                    (!why.is_empty()).then(|| why.to_owned()),
                ),
                (ok, Some((Directive::Todo, why))) => {
                    if ok {
                        todo_passed += 1;
                    } else {
                        todo_failed += 1;
                    }
                    let status = if ok {
                        ResultStatus::Passed
                    } else {
                        ResultStatus::Skipped
                    };
                    let message = if why.is_empty() {
                        "TODO".to_owned()
                    } else {
                        format!("TODO: {why}")
                    };
                    (status, Some(message))
                }
                (true, None) => (ResultStatus::Passed, None),
                (false, None) => (
                    ResultStatus::Failed,
                    subtest_failure
                        .take()
                        .map(|leaf| format!("failed subtest: {leaf}")),
                ),
            };
            subtest_failure = None;
            pending.result = Some(TestResult {
                name: super::prefix(&name, 1024).to_owned(),
                status,
                duration_ms: None,
                message: message.map(|m| super::prefix(&m, MAX_MESSAGE_READ).to_owned()),
            });
            pending.comments = true;
            continue;
        }
        if let Some((count, reason)) = plan_line(line) {
            seen_tap = true;
            pending.flush(bounder);
            plans.push((count, super::prefix(reason, 256).to_owned()));
            continue;
        }
        if let Some(reason) = line.strip_prefix("Bail out!") {
            seen_tap = true;
            pending.flush(bounder);
            let reason = reason.trim();
            bounder.push(TestResult {
                name: "Bail out!".to_owned(),
                status: ResultStatus::Failed,
                duration_ms: None,
                message: (!reason.is_empty())
                    .then(|| super::prefix(reason, MAX_MESSAGE_READ).to_owned()),
            });
            let of_plan = match plans.first() {
                Some((Some(planned), _)) => format!(" of {planned} planned"),
                _ => String::new(),
            };
            notes.add(format!(
                "Bail out! {} (stopped after {ran}{of_plan} tests; tests that never ran are not counted)",
                super::prefix(reason, 256)
            ));
            bailed = true;
            break;
        }
        if line.starts_with("TAP version ") || line.starts_with("pragma ") {
            seen_tap = true;
        }
        // Anything else is not TAP and is ignored.
    }
    pending.flush(bounder);
    if !seen_tap {
        return Err(ReportError::NotTap(format!(
            "no plan or test line found; it starts with {:?}",
            preview(text)
        )));
    }
    if todo_failed > 0 {
        notes.add(format!(
            "{todo_failed} TODO test{} failed as expected (counted as skipped)",
            plural(todo_failed)
        ));
    }
    if todo_passed > 0 {
        notes.add(format!(
            "{todo_passed} TODO test{} passed unexpectedly (counted as passed)",
            plural(todo_passed)
        ));
    }
    if !bailed {
        check_plan(&plans, ran, text, &mut notes);
    }
    Ok(notes)
}

fn check_plan(plans: &[(Option<u64>, String)], ran: u64, text: &str, notes: &mut Notes) {
    let cut_line = !text.ends_with('\n') && !text.trim_end().is_empty();
    let truncated = || {
        if cut_line {
            "; report ends early (truncated?): the last line has no newline"
        } else {
            ""
        }
    };
    match plans {
        [] => notes.add(format!(
            "no TAP plan (1..N): {ran} test{} ran, the run may have stopped early{}",
            plural(ran),
            truncated()
        )),
        [(Some(0), reason), ..] if ran == 0 => notes.add({
            let reason = parse_directive(reason).map_or(reason.as_str(), |(_, why)| why);
            if reason.is_empty() {
                "TAP plan 1..0: all tests skipped".to_owned()
            } else {
                format!("TAP plan 1..0: all tests skipped ({reason})")
            }
        }),
        [(Some(planned), _), rest @ ..] => {
            if *planned != ran {
                notes.add(format!(
                    "TAP plan 1..{planned} but {ran} test{} ran{}",
                    plural(ran),
                    truncated()
                ));
            }
            if !rest.is_empty() {
                notes.add("more than one TAP plan; the first was used");
            }
        }
        [(None, _), ..] => notes.add("the TAP plan's count is not a number"),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests;

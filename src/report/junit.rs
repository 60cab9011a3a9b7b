//! JUnit XML reports, read with quick-xml's streaming event reader over the report text.
//!
//! Semantics (hand-written: quick-junit and junit-parser both build the whole report in memory,
//! `system-out` included, so neither is bounded):
//! - The root is `<testsuites>` or a bare `<testsuite>` (several roots, as in `cat *.xml`, are
//!   read one after the other). Every `<testcase>` under it counts once, however deeply suites
//!   nest; `<properties>`, `<system-out>`, `<system-err>` and anything unknown are skipped
//!   without keeping their text.
//! - A test case's status comes from its children: `<failure>` → failed, `<error>` → error,
//!   `<skipped>` → skipped, none → passed (a failure or error wins over a skip; Surefire's
//!   `<flakyFailure>`/`<rerunFailure>` do not change the status).
//! - Its message is the outcome element's `message` attribute, else its text (the stack trace),
//!   else its `type` attribute, cut to a few KiB while reading.
//! - Its name is `classname.name` (what Surefire, Jenkins and GitLab show, and pytest's dotted
//!   `classname` reads the same way), or just `name` when there is no classname or the name
//!   already starts with it (jest-junit repeats it).
//! - `time` (seconds, Surefire may write `1,234.5`) becomes `durationMs`.
//! - Counts come from the test cases present; a `tests` attribute that disagrees is mentioned in
//!   the message, never trusted.
//! - A DOCTYPE is skipped and entities are never expanded or fetched: only the five predefined
//!   entities and character references are decoded, any other `&name;` stays as written.
//! - A report that ends inside an element is counted up to the last complete test case and
//!   marked "report ends early (truncated?)".

use quick_xml::Reader;
use quick_xml::errors::{Error as XmlError, SyntaxError};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

use super::{Bounder, Notes, ReportError, push_bounded};
use crate::crd::{ResultStatus, TestResult};
use crate::results::preview;

/// Longest name or classname read from an attribute (the bounder cuts names further).
const MAX_NAME_READ: usize = 1024;
/// Most bytes of a failure's message or text read (the bounder cuts messages further).
const MAX_TEXT_READ: usize = 4096;

/// The test case being read.
struct Case {
    /// Depth of its `<testcase>` element.
    depth: usize,
    name: String,
    status: ResultStatus,
    duration_ms: Option<i64>,
    message: Option<String>,
    /// The outcome element being read, and the text read from it so far.
    outcome: Option<Outcome>,
}

struct Outcome {
    depth: usize,
    /// Whether its text becomes the case's message (it set the status and had no `message`).
    use_text: bool,
    text: String,
}

/// Reads a JUnit XML report into `bounder`.
pub(super) fn parse(text: &str, bounder: &mut Bounder) -> Result<Notes, ReportError> {
    let start = text.trim_start();
    if !start.starts_with('<') {
        return Err(ReportError::NotJUnit(format!(
            "it does not start with '<' but with {:?}",
            preview(start)
        )));
    }
    let mut reader = Reader::from_str(text);
    let mut notes = Notes::default();
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut case: Option<Case> = None;
    // What the roots' `tests` attributes (or their suites', when a root has none) claim.
    let mut claimed: Option<u64> = None;
    let mut root_claims = true;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(error) if is_truncation(&error) => {
                notes.add(truncated(reader.error_position(), case.is_some(), bounder));
                break;
            }
            Err(error) => {
                return Err(ReportError::NotJUnit(format!(
                    "{error} at byte {}",
                    reader.error_position()
                )));
            }
        };
        match event {
            Event::Start(element) | Event::Empty(element) if depth == 0 && !is_root(&element) => {
                return Err(ReportError::NotJUnit(format!(
                    "the root element is <{}>, expected <testsuites> or <testsuite>",
                    super::prefix(element.name().as_ref(), 64)
                )));
            }
            Event::Start(element) => {
                open(&element, depth, &mut case, &mut roots);
                claim(&element, depth, &mut claimed, &mut root_claims);
                depth += 1;
            }
            Event::Empty(element) => {
                open(&element, depth, &mut case, &mut roots);
                claim(&element, depth, &mut claimed, &mut root_claims);
                // An empty element closes at once: a `<testcase/>` passed, an outcome has no text.
                close(depth, &mut case, bounder);
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                close(depth, &mut case, bounder);
            }
            Event::Text(text) => collect(&mut case, &text),
            Event::CData(text) => collect(&mut case, &text),
            Event::GeneralRef(reference) => {
                let mut decoded = String::new();
                decode_name(&reference, &mut decoded);
                collect(&mut case, &decoded);
            }
            Event::DocType(_) => notes
                .add("the report's DOCTYPE was ignored (entities are never expanded or fetched)"),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if depth > 0
        && !notes
            .notes
            .iter()
            .any(|n| n.starts_with("report ends early"))
    {
        notes.add(truncated(text.len() as u64, case.is_some(), bounder));
    }
    if roots == 0 {
        return Err(ReportError::NotJUnit(
            "no <testsuites> or <testsuite> element".to_owned(),
        ));
    }
    let cases = u64::try_from(bounder.summary().total).unwrap_or(0);
    if let Some(claimed) = claimed
        && claimed != cases
    {
        notes.add(format!(
            "the report says tests=\"{claimed}\" but has {cases} test case{}; counted the test cases",
            if cases == 1 { "" } else { "s" }
        ));
    }
    Ok(notes)
}

fn truncated(at: u64, in_case: bool, bounder: &Bounder) -> String {
    let cases = bounder.summary().total;
    let inside = if in_case { " inside a <testcase>" } else { "" };
    format!(
        "report ends early (truncated?) at byte {at}{inside}; counted the {cases} complete test cases before it"
    )
}

/// The errors that mean the text stops in the middle of markup.
fn is_truncation(error: &XmlError) -> bool {
    matches!(
        error,
        XmlError::Syntax(
            SyntaxError::UnclosedPI
                | SyntaxError::UnclosedXmlDecl
                | SyntaxError::UnclosedComment
                | SyntaxError::UnclosedDoctype
                | SyntaxError::UnclosedCData
                | SyntaxError::UnclosedTag
                | SyntaxError::UnclosedSingleQuotedAttributeValue
                | SyntaxError::UnclosedDoubleQuotedAttributeValue
        )
    )
}

fn is_root(element: &BytesStart) -> bool {
    matches!(element.local_name().as_ref(), "testsuites" | "testsuite")
}

/// Handles an opening tag at `depth` (before it is counted as open).
fn open(element: &BytesStart, depth: usize, case: &mut Option<Case>, roots: &mut usize) {
    if depth == 0 {
        *roots += 1;
        return;
    }
    let local = element.local_name();
    match (local.as_ref(), case.as_mut()) {
        ("testcase", None) => {
            *case = Some(start_case(element, depth));
        }
        (kind @ ("failure" | "error" | "skipped"), Some(current)) if current.outcome.is_none() => {
            let status = match kind {
                "failure" => ResultStatus::Failed,
                "error" => ResultStatus::Error,
                _ => ResultStatus::Skipped,
            };
            let decisive = rank(status) > rank(current.status);
            if decisive {
                current.status = status;
                current.message = attribute(element, "message")
                    .filter(|m| !m.trim().is_empty())
                    .map(|m| m.trim().to_owned());
            }
            let kind_attribute = attribute(element, "type");
            current.outcome = Some(Outcome {
                depth,
                use_text: decisive && current.message.is_none(),
                text: String::new(),
            });
            if decisive && current.message.is_none() {
                current.message = kind_attribute.filter(|t| !t.trim().is_empty());
            }
        }
        _ => {}
    }
}

/// Records what the roots (or, for a root without `tests`, its suites) claim to hold.
fn claim(element: &BytesStart, depth: usize, claimed: &mut Option<u64>, root_claims: &mut bool) {
    let local = element.local_name();
    let tests = || attribute(element, "tests").and_then(|t| t.trim().parse::<u64>().ok());
    if depth == 0 {
        *root_claims = true;
        match tests() {
            Some(tests) => *claimed = Some(claimed.unwrap_or(0).saturating_add(tests)),
            None if local.as_ref() == "testsuites" => *root_claims = false,
            None => {}
        }
    } else if depth == 1
        && !*root_claims
        && local.as_ref() == "testsuite"
        && let Some(tests) = tests()
    {
        *claimed = Some(claimed.unwrap_or(0).saturating_add(tests));
    }
}

fn start_case(element: &BytesStart, depth: usize) -> Case {
    let name = attribute(element, "name").unwrap_or_default();
    let name = name.trim();
    let classname = attribute(element, "classname").unwrap_or_default();
    let classname = classname.trim();
    let name = match (classname.is_empty(), name.is_empty()) {
        (_, true) if !classname.is_empty() => format!("{classname}.(unnamed)"),
        (_, true) => "(unnamed test case)".to_owned(),
        (true, false) => name.to_owned(),
        (false, false) if name.starts_with(classname) => name.to_owned(),
        (false, false) => format!("{classname}.{name}"),
    };
    let duration_ms = attribute(element, "time").and_then(|t| seconds_to_ms(&t));
    Case {
        depth,
        name,
        status: ResultStatus::Passed,
        duration_ms,
        message: None,
        outcome: None,
    }
}

/// `time="1,234.5"` → 1234500.
fn seconds_to_ms(text: &str) -> Option<i64> {
    let seconds: f64 = text.trim().replace(',', "").parse().ok()?;
    let ms = (seconds * 1000.0).round();
    (ms.is_finite() && ms >= 0.0 && ms < i64::MAX as f64).then_some(ms as i64)
}

fn rank(status: ResultStatus) -> u8 {
    match status {
        ResultStatus::Passed => 0,
        ResultStatus::Skipped => 1,
        ResultStatus::Failed | ResultStatus::Error => 2,
    }
}

/// Handles a closing tag that leaves `depth` elements open.
fn close(depth: usize, case: &mut Option<Case>, bounder: &mut Bounder) {
    let Some(current) = case.as_mut() else {
        return;
    };
    if let Some(outcome) = current.outcome.take_if(|o| o.depth == depth) {
        if outcome.use_text {
            let text = outcome.text.trim();
            if !text.is_empty() {
                current.message = Some(text.to_owned());
            }
        }
        return;
    }
    if current.depth == depth
        && let Some(done) = case.take()
    {
        bounder.push(TestResult {
            name: done.name,
            status: done.status,
            duration_ms: done.duration_ms,
            message: done.message,
        });
    }
}

/// Keeps the start of an outcome element's text (other text, like `system-out`, is skipped).
fn collect(case: &mut Option<Case>, text: &str) {
    if let Some(Case {
        outcome: Some(outcome),
        ..
    }) = case
        && outcome.use_text
    {
        push_bounded(&mut outcome.text, text, MAX_TEXT_READ);
    }
}

/// An attribute's value, decoded and cut to a few KiB (a huge attribute is never copied whole).
fn attribute(element: &BytesStart, key: &str) -> Option<String> {
    let max = if key == "message" {
        MAX_TEXT_READ
    } else {
        MAX_NAME_READ
    };
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == key)
        .map(|attribute| unescape(super::prefix(&attribute.value, max)))
}

/// Decodes character references and the five predefined entities; any other `&name;` stays
/// as written (never expanded), and a reference cut off at the end is dropped.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match rest[1..].find(';').filter(|end| *end <= 32) {
            Some(end) => {
                let name = &rest[1..=end];
                decode_name(name, &mut out);
                rest = &rest[end + 2..];
            }
            None if rest.len() <= 32 && !rest[1..].contains(char::is_whitespace) => {
                rest = "";
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Appends what `&name;` stands for, or `&name;` itself when it is not predefined.
fn decode_name(name: &str, out: &mut String) {
    let number = name
        .strip_prefix('#')
        .and_then(|number| match number.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse().ok(),
        });
    if let Some(c) = number.and_then(char::from_u32) {
        out.push(c);
    } else if let Some(text) = resolve_predefined_entity(name) {
        out.push_str(text);
    } else {
        out.push('&');
        out.push_str(name);
        out.push(';');
    }
}

#[cfg(test)]
mod tests;

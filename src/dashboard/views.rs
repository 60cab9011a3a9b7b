//! HTML of the list page and the shared layout, as maud templates: everything interpolated is
//! escaped, so names, messages and logs written by runners or users show as text. Elements carry
//! their data in `data-*` attributes for `app.js`; no inline script or style anywhere (the CSP
//! forbids them).

use maud::{DOCTYPE, Markup, html};

use crate::crd::Phase;
use crate::dashboard::cache::Row;
use crate::dashboard::format::{human_duration, now, run_time};
use crate::dashboard::list::{ListPage, PHASES};

/// Which page is shown, for the navigation and for `app.js`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// The job list.
    List,
    /// One job.
    Job,
    /// The queue.
    Queue,
    /// An error page.
    Error,
}

impl PageKind {
    fn as_str(self) -> &'static str {
        match self {
            PageKind::List => "list",
            PageKind::Job => "job",
            PageKind::Queue => "queue",
            PageKind::Error => "error",
        }
    }
}

/// What every page needs to know about the dashboard.
#[derive(Clone, Debug)]
pub struct Chrome {
    /// The watched namespace, if only one.
    pub namespace: Option<String>,
    /// `--max-running` (0: no queue view).
    pub max_running: usize,
}

/// The page around `body`.
pub fn layout(chrome: &Chrome, kind: PageKind, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · TestJobs" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                script src="/static/app.js" defer {}
            }
            body data-page=(kind.as_str()) {
                header.top {
                    a.brand href="/" { "TestJobs" }
                    nav {
                        a href="/" class=[(kind == PageKind::List).then_some("current")] { "Jobs" }
                        @if chrome.max_running > 0 {
                            a href="/queue" class=[(kind == PageKind::Queue).then_some("current")] { "Queue" }
                        }
                    }
                    span.scope {
                        @match &chrome.namespace {
                            Some(ns) => { "namespace " (ns) }
                            None => "all namespaces",
                        }
                    }
                    span #live.live title="live updates" { "connecting" }
                }
                main { (body) }
            }
        }
    }
}

/// A status badge.
pub fn phase_badge(phase: Phase) -> Markup {
    html! { span class={ "phase phase-" (phase.as_str().to_lowercase()) } { (phase.as_str()) } }
}

/// The DURATION cell's text: `status.duration` when finished, the run time so far while running.
pub fn duration_text(row_duration: Option<&str>, started: Option<i64>, phase: Phase) -> String {
    match (row_duration, started) {
        (Some(d), _) => d.to_string(),
        (None, Some(start)) if phase == Phase::Running => run_time(start, now()),
        _ => String::new(),
    }
}

fn list_href(pairs: &[(&str, &str)], page: Option<usize>) -> String {
    let mut out = String::from("/?");
    let mut first = true;
    let page = page.map(|p| p.to_string());
    let all = pairs
        .iter()
        .copied()
        .chain(page.as_deref().map(|p| ("page", p)));
    for (key, value) in all {
        if !first {
            out.push('&');
        }
        first = false;
        out.push_str(key);
        out.push('=');
        out.push_str(&encode(value));
    }
    if first { "/".to_string() } else { out }
}

/// Percent-encodes a path segment or query value (maud escapes HTML, not URLs): everything but
/// the characters RFC 3986 leaves unreserved.
pub fn encode(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

/// The path of a job's page.
pub fn job_href(namespace: &str, name: &str) -> String {
    format!("/jobs/{}/{}", encode(namespace), encode(name))
}

/// One row of the list (`app.js` builds the same cells for live rows).
fn list_row(row: &Row) -> Markup {
    let now = now();
    html! {
        tr data-uid=(row.uid) data-namespace=(row.namespace) data-name=(row.name)
           data-test=(row.test_id) data-phase=(row.phase.as_str()) data-created=(row.created) {
            td.ns data-label="Namespace" { (row.namespace) }
            td.name data-label="Name" {
                a href=(job_href(&row.namespace, &row.name)) { (row.name) }
                @if let Some(message) = &row.message {
                    div.msg { (message) }
                }
            }
            td.test data-label="Test" { (row.test_id) }
            td.status data-label="Status" { (phase_badge(row.phase)) }
            td.result data-label="Result" { (row.result.as_deref().unwrap_or("")) }
            td.duration data-label="Duration"
               data-start=[(row.duration.is_none() && row.phase == Phase::Running).then_some(row.started).flatten()] {
                (duration_text(row.duration.as_deref(), row.started, row.phase))
            }
            td.age data-label="Age" data-ts=(row.created) { (human_duration(now - row.created)) }
        }
    }
}

/// The job list.
pub fn list_page(chrome: &Chrome, page: &ListPage) -> Markup {
    let filter = &page.filter;
    let running = page.totals[1];
    let body = html! {
        @if chrome.max_running > 0 {
            p.queue-summary {
                "Running " b #q-running { (running) } " of " (chrome.max_running)
                " · " b #q-waiting { (page.waiting) } " waiting · "
                a href="/queue" { "queue" }
            }
        }
        form.filters method="get" action="/" {
            @if chrome.namespace.is_none() {
                label { "Namespace "
                    select name="namespace" {
                        option value="" { "all" }
                        @for ns in &page.namespaces {
                            option value=(ns) selected[filter.namespace.as_deref() == Some(ns.as_str())] { (ns) }
                        }
                    }
                }
            }
            label { "Test " input name="test" value=[filter.test.as_deref()] placeholder="test id" size="10"; }
            label { "Phase "
                select name="phase" {
                    option value="" { "any" }
                    @for phase in PHASES {
                        option value=(phase.as_str()) selected[filter.phase.as_deref() == Some(phase.as_str())] { (phase.as_str()) }
                    }
                }
            }
            label { "Name " input name="q" value=[filter.name.as_deref()] placeholder="contains" size="14"; }
            button type="submit" { "Filter" }
            @if *filter != Default::default() { a.clear href="/" { "clear" } }
        }
        nav.counts {
            a.count href=(list_href(&filter.pairs_with_phase(None), None))
              class=[filter.phase.is_none().then_some("current")] data-phase="" {
                "All " b { (page.counts.iter().sum::<usize>()) }
            }
            @for (i, phase) in PHASES.iter().enumerate() {
                a href=(list_href(&filter.pairs_with_phase(Some(phase.as_str())), None))
                  class={ "count phase-" (phase.as_str().to_lowercase()) @if filter.phase.as_deref() == Some(phase.as_str()) { " current" } }
                  data-phase=(phase.as_str()) {
                    (phase.as_str()) " " b { (page.counts[i]) }
                }
            }
        }
        table #jobs.jobs data-page=(page.page) data-page-size=(page.page_size) data-seq=(page.seq)
              data-namespace=[filter.namespace.as_deref()] data-test=[filter.test.as_deref()]
              data-phase=[filter.phase.as_deref()] data-q=[filter.name.as_deref()] {
            thead { tr { th { "Namespace" } th { "Name" } th { "Test" } th { "Status" } th { "Result" } th { "Duration" } th { "Age" } } }
            tbody { @for row in &page.rows { (list_row(row)) } }
        }
        @if page.rows.is_empty() {
            p #empty.empty { "No TestJobs match." }
        }
        nav.pager {
            @if page.page > 1 {
                a rel="prev" href=(list_href(&filter.pairs_with_phase(filter.phase.as_deref()), Some(page.page - 1))) { "← newer" }
            }
            span { "page " (page.page) " of " (page.pages) " · " (page.matching) " jobs" }
            @if page.page < page.pages {
                a rel="next" href=(list_href(&filter.pairs_with_phase(filter.phase.as_deref()), Some(page.page + 1))) { "older →" }
            }
        }
    };
    layout(chrome, PageKind::List, "Jobs", body)
}

/// A page saying what went wrong (the text is escaped like everything else).
pub fn error_page(chrome: &Chrome, title: &str, detail: &str) -> Markup {
    layout(
        chrome,
        PageKind::Error,
        title,
        html! { h1 { (title) } p.error { (detail) } p { a href="/" { "← all jobs" } } },
    )
}

//! The job list as a query over the index: filters, counts by phase, newest first, paging.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::crd::Phase;
use crate::dashboard::cache::{Index, Row};

/// Every phase, in lifecycle order (the order of the counts).
pub const PHASES: [Phase; 5] = [
    Phase::Pending,
    Phase::Running,
    Phase::Succeeded,
    Phase::Failed,
    Phase::Cancelled,
];

/// The list's query string. Empty values (as a form sends them) mean "any".
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Exact namespace.
    pub namespace: Option<String>,
    /// Exact test id.
    pub test: Option<String>,
    /// Exact phase.
    pub phase: Option<String>,
    /// Text the name contains (case-insensitive).
    pub q: Option<String>,
    /// Page, from 1.
    pub page: Option<usize>,
}

impl ListQuery {
    /// The filter values, empty ones dropped and the name text lower-cased.
    pub fn filter(&self) -> Filter {
        fn some(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        Filter {
            namespace: some(&self.namespace).map(str::to_string),
            test: some(&self.test).map(str::to_string),
            phase: some(&self.phase).map(str::to_string),
            name: some(&self.q).map(str::to_lowercase),
        }
    }
}

/// The filters of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Exact namespace.
    pub namespace: Option<String>,
    /// Exact test id.
    pub test: Option<String>,
    /// Exact phase name.
    pub phase: Option<String>,
    /// Lower-cased text the name contains.
    pub name: Option<String>,
}

impl Filter {
    /// Whether `row` passes every filter but the phase (what the counts count).
    pub fn matches_except_phase(&self, row: &Row) -> bool {
        self.namespace
            .as_ref()
            .is_none_or(|ns| *ns == row.namespace)
            && self.test.as_ref().is_none_or(|t| *t == row.test_id)
            && self
                .name
                .as_ref()
                .is_none_or(|q| row.name.to_lowercase().contains(q.as_str()))
    }

    /// Whether `row` passes every filter.
    pub fn matches(&self, row: &Row) -> bool {
        self.matches_except_phase(row)
            && self.phase.as_ref().is_none_or(|p| p == row.phase.as_str())
    }

    /// The filters as query-string pairs, with `phase` replaced by `phase` (None: any).
    pub fn pairs_with_phase<'a>(&'a self, phase: Option<&'a str>) -> Vec<(&'static str, &'a str)> {
        let mut pairs = Vec::new();
        if let Some(ns) = &self.namespace {
            pairs.push(("namespace", ns.as_str()));
        }
        if let Some(test) = &self.test {
            pairs.push(("test", test.as_str()));
        }
        if let Some(phase) = phase {
            pairs.push(("phase", phase));
        }
        if let Some(name) = &self.name {
            pairs.push(("q", name.as_str()));
        }
        pairs
    }
}

/// One page of the list.
#[derive(Debug)]
pub struct ListPage {
    /// The filters applied.
    pub filter: Filter,
    /// The rows of this page, newest first.
    pub rows: Vec<Row>,
    /// Rows passing the filters.
    pub matching: usize,
    /// Rows passing the filters but the phase, by phase (in [`PHASES`] order).
    pub counts: [usize; 5],
    /// All rows by phase, whatever the filters (for the queue summary).
    pub totals: [usize; 5],
    /// Jobs waiting for a run slot, whatever the filters.
    pub waiting: usize,
    /// The namespaces that have jobs.
    pub namespaces: Vec<String>,
    /// This page, from 1.
    pub page: usize,
    /// Number of pages (at least 1).
    pub pages: usize,
    /// Rows per page.
    pub page_size: usize,
    /// The number of the last change the page includes (live updates continue from there).
    pub seq: u64,
}

/// Position of `phase` in [`PHASES`].
pub fn phase_index(phase: Phase) -> usize {
    PHASES.iter().position(|p| *p == phase).unwrap_or(0)
}

/// Runs `query` over `index`.
pub fn list(index: &Index, query: &ListQuery, page_size: usize) -> ListPage {
    let filter = query.filter();
    let page_size = page_size.max(1);
    let ((rows, total, page, pages), counts, totals, waiting, namespaces, seq) =
        index.with_rows(|rows, seq| {
            let mut matching: Vec<&Row> = Vec::new();
            let mut counts = [0; 5];
            let mut totals = [0; 5];
            let mut waiting = 0;
            let mut namespaces = BTreeSet::new();
            for row in rows {
                let phase = phase_index(row.phase);
                totals[phase] += 1;
                waiting += usize::from(row.waiting);
                if !namespaces.contains(row.namespace.as_str()) {
                    namespaces.insert(row.namespace.clone());
                }
                if filter.matches_except_phase(row) {
                    counts[phase] += 1;
                    if filter.matches(row) {
                        matching.push(row);
                    }
                }
            }
            // Newest first, ties in a stable order. Only the page is cloned out of the lock.
            matching.sort_unstable_by(|a, b| {
                (b.created, &a.namespace, &a.name).cmp(&(a.created, &b.namespace, &b.name))
            });
            let total = matching.len();
            let pages = total.div_ceil(page_size).max(1);
            let page = query.page.unwrap_or(1).clamp(1, pages);
            let rows: Vec<Row> = matching
                .iter()
                .skip((page - 1) * page_size)
                .take(page_size)
                .map(|r| (*r).clone())
                .collect();
            (
                (rows, total, page, pages),
                counts,
                totals,
                waiting,
                namespaces,
                seq,
            )
        });
    ListPage {
        filter,
        rows,
        matching: total,
        counts,
        totals,
        waiting,
        namespaces: namespaces.into_iter().collect(),
        page,
        pages,
        page_size,
        seq,
    }
}

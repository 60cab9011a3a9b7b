//! Unit tests of the list query, the rendered pages' escaping, and the queue order.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;
use kube::runtime::watcher::Event;

use crate::crd::{Phase, TestJob, TestJobSpec, TestJobStatus};
use crate::dashboard::cache::Index;
use crate::dashboard::list::{ListQuery, list};
use crate::dashboard::queue::queue_view;
use crate::dashboard::views::{Chrome, list_page};

fn job(ns: &str, name: &str, test: &str, created: i64, phase: Option<Phase>) -> TestJob {
    let mut job = TestJob::new(name, TestJobSpec::new(test));
    job.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some(ns.into()),
        uid: Some(format!("{ns}-{name}")),
        creation_timestamp: Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_800_000_000 + created).expect("time"),
        )),
        ..Default::default()
    };
    job.status = phase.map(|phase| {
        Box::new(TestJobStatus {
            phase: Some(phase),
            ..Default::default()
        })
    });
    job
}

fn index(jobs: Vec<TestJob>) -> Index {
    let index = Index::default();
    index.apply(Event::Init);
    for job in jobs {
        index.apply(Event::InitApply(job));
    }
    index.apply(Event::InitDone);
    index
}

fn query(pairs: &[(&str, &str)]) -> ListQuery {
    let text: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    serde_urlencoded_like(&text.join("&"))
}

// The query string as axum's `Query` would decode it (no percent-escapes in these tests).
fn serde_urlencoded_like(text: &str) -> ListQuery {
    let value: serde_json::Map<String, serde_json::Value> = text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = if k == "page" {
                serde_json::json!(v.parse::<usize>().expect("page"))
            } else {
                serde_json::json!(v)
            };
            (k.to_string(), v)
        })
        .collect();
    serde_json::from_value(serde_json::Value::Object(value)).expect("query")
}

#[test]
fn the_list_filters_counts_sorts_newest_first_and_pages() {
    let index = index(vec![
        job("a", "alpha-1", "t1", 1, Some(Phase::Succeeded)),
        job("a", "alpha-2", "t1", 2, Some(Phase::Failed)),
        job("b", "beta-1", "t2", 3, Some(Phase::Running)),
        job("b", "alpha-3", "t1", 4, None),
    ]);
    let names = |page: &crate::dashboard::list::ListPage| {
        page.rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>()
    };
    let all = list(&index, &ListQuery::default(), 100);
    assert_eq!(names(&all), ["alpha-3", "beta-1", "alpha-2", "alpha-1"]);
    assert_eq!(all.counts, [1, 1, 1, 1, 0]);
    assert_eq!(all.namespaces, ["a", "b"]);

    let t1 = list(
        &index,
        &query(&[("test", "t1"), ("namespace", ""), ("q", "")]),
        100,
    );
    assert_eq!(names(&t1), ["alpha-3", "alpha-2", "alpha-1"]);
    let failed = list(&index, &query(&[("test", "t1"), ("phase", "Failed")]), 100);
    assert_eq!(names(&failed), ["alpha-2"]);
    // Counts ignore the phase filter (they are the phase filter's choices), not the others.
    assert_eq!(failed.counts, [1, 0, 1, 1, 0]);
    assert_eq!(failed.totals, [1, 1, 1, 1, 0]);
    let named = list(&index, &query(&[("q", "ALPHA"), ("namespace", "a")]), 100);
    assert_eq!(names(&named), ["alpha-2", "alpha-1"]);

    let page2 = list(&index, &query(&[("page", "2")]), 3);
    assert_eq!((page2.page, page2.pages, page2.matching), (2, 2, 4));
    assert_eq!(names(&page2), ["alpha-1"]);
    let beyond = list(&index, &query(&[("page", "9")]), 3);
    assert_eq!(beyond.page, 2, "a page past the end shows the last one");
}

#[test]
fn rendered_pages_escape_what_runners_and_users_wrote() {
    let mut evil = job(
        "a",
        "x",
        "<script>alert(1)</script>",
        1,
        Some(Phase::Failed),
    );
    evil.status = Some(Box::new(TestJobStatus {
        phase: Some(Phase::Failed),
        message: Some("<img src=x onerror=alert(2)>".into()),
        result: Some("\"><b>".into()),
        ..Default::default()
    }));
    let index = index(vec![evil]);
    let chrome = Chrome {
        namespace: None,
        max_running: 0,
    };
    let html = list_page(&chrome, &list(&index, &ListQuery::default(), 100)).into_string();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<img") && !html.contains("<script>alert"),
        "{html}"
    );
    // Attribute values too (the test id is in data-test).
    assert!(
        html.contains("data-test=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{html}"
    );
    assert!(!html.contains("\"><b>"), "{html}");
    assert_eq!(html.matches("<script").count(), 1, "only app.js: {html}");
}

#[test]
fn the_queue_is_in_the_controllers_start_order() {
    let mut urgent = job("b", "urgent", "t", 5, Some(Phase::Pending));
    urgent.spec.priority = Some(10);
    let mut cancelled = job("a", "cancelled", "t", 0, None);
    cancelled.spec.cancel = Some(true);
    let index = index(vec![
        job("a", "old", "t", 1, None),
        job("a", "new", "t", 3, Some(Phase::Pending)),
        urgent,
        cancelled,
        job("a", "running", "t", 0, Some(Phase::Running)),
        job("a", "done", "t", 0, Some(Phase::Succeeded)),
    ]);
    let view = queue_view(&index, 2, 0);
    let waiting: Vec<&str> = view.waiting.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(waiting, ["urgent", "old", "new"]);
    assert_eq!(view.running.len(), 1);
    // A default priority above the urgent job's puts the jobs without one first.
    let view = queue_view(&index, 2, 20);
    let waiting: Vec<&str> = view.waiting.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(waiting, ["old", "new", "urgent"]);
}

#[test]
fn links_encode_names_and_filters() {
    use crate::dashboard::views::{encode, job_href};
    assert_eq!(encode("a b/<c>&ü"), "a%20b%2F%3Cc%3E%26%C3%BC");
    assert_eq!(encode("job-1_x.y~z"), "job-1_x.y~z");
    assert_eq!(job_href("default", "a/b"), "/jobs/default/a%2Fb");
}

//! Unit tests of the index: rows, relists that broadcast only differences, deletes.

use kube::api::ObjectMeta;
use kube::runtime::watcher::Event;

use super::*;
use crate::crd::{TestJobSpec, TestJobStatus};

fn job(name: &str, uid: &str, phase: Option<Phase>) -> TestJob {
    let mut job = TestJob::new(name, TestJobSpec::new(220));
    job.metadata = ObjectMeta {
        name: Some(name.into()),
        namespace: Some("default".into()),
        uid: Some(uid.into()),
        ..Default::default()
    };
    job.status = phase.map(|phase| {
        Box::new(TestJobStatus {
            phase: Some(phase),
            message: Some("x".repeat(500)),
            ..Default::default()
        })
    });
    job
}

#[test]
fn rows_are_compact_and_new_jobs_wait() {
    let row = Row::of(&job("a", "u1", None));
    assert_eq!(row.phase, Phase::Pending);
    assert!(row.waiting);
    assert_eq!(row.test_id, "220");
    let row = Row::of(&job("a", "u1", Some(Phase::Running)));
    assert!(!row.waiting);
    assert_eq!(row.message.as_deref().map(|m| m.chars().count()), Some(161));
}

#[test]
fn changes_are_broadcast_and_relists_send_only_differences() {
    let index = Index::default();
    let (mut changes, _) = index.subscribe();
    index.apply(Event::Init);
    index.apply(Event::InitApply(job("a", "u1", None)));
    index.apply(Event::InitApply(job("b", "u2", Some(Phase::Running))));
    assert!(!index.synced());
    index.apply(Event::InitDone);
    assert!(index.synced());
    // The first list is no change: pages rendered before it read again (see subscribe_since).
    assert!(changes.try_recv().is_err());

    index.apply(Event::Apply(job("a", "u1", Some(Phase::Running))));
    let change = changes.try_recv().expect("an upsert");
    assert_eq!(change.event, "upsert");
    let data: serde_json::Value = serde_json::from_str(&change.data).expect("json");
    assert_eq!(data["was"], "Pending");
    assert_eq!(data["wasWaiting"], true);
    assert_eq!(data["row"]["phase"], "Running");
    // The same object again changes nothing.
    index.apply(Event::Apply(job("a", "u1", Some(Phase::Running))));
    assert!(changes.try_recv().is_err());

    // A relist where b vanished and a is unchanged: one delete.
    index.apply(Event::Init);
    index.apply(Event::InitApply(job("a", "u1", Some(Phase::Running))));
    index.apply(Event::InitDone);
    let change = changes.try_recv().expect("a delete");
    assert_eq!(change.event, "delete");
    assert!(change.data.contains("\"name\":\"b\""));
    assert!(changes.try_recv().is_err());
    assert_eq!(index.with_rows(|rows, _| rows.count()), 1);

    index.apply(Event::Delete(job("a", "u1", Some(Phase::Running))));
    assert_eq!(changes.try_recv().expect("delete").event, "delete");
    assert_eq!(index.with_rows(|rows, _| rows.count()), 0);
}

#[test]
fn a_page_rendered_before_subscribing_gets_the_changes_in_between() {
    let index = Index::default();
    index.apply(Event::Init);
    index.apply(Event::InitDone);
    let rendered = index.with_rows(|_, seq| seq);
    assert!(rendered > 0, "the first list moves the number on");
    index.apply(Event::Apply(job("a", "u1", None)));
    index.apply(Event::Apply(job("a", "u1", Some(Phase::Running))));
    let Replay::Changes(missed, mut live) = index.subscribe_since(rendered) else {
        panic!("the changes are kept");
    };
    let seqs: Vec<u64> = missed.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, [rendered + 1, rendered + 2]);
    index.apply(Event::Delete(job("a", "u1", Some(Phase::Running))));
    let next = live.try_recv().expect("the next change, live");
    assert_eq!((next.seq, next.event), (rendered + 3, "delete"));
    let Replay::Changes(missed, _) = index.subscribe_since(rendered + 3) else {
        panic!("up to date");
    };
    assert!(missed.is_empty());

    // A page from before the first list, from the future, or older than the kept changes.
    assert!(matches!(index.subscribe_since(0), Replay::TooOld));
    assert!(matches!(
        index.subscribe_since(rendered + 9),
        Replay::TooOld
    ));
    for i in 0..(RECENT_CHANGES + 10) {
        index.apply(Event::Apply(job("b", &format!("u{i}"), None)));
    }
    assert!(matches!(index.subscribe_since(rendered), Replay::TooOld));
}

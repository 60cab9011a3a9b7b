//! Watches: resourceVersion semantics, bookmarks, timeouts and watch-list.

use super::*;

// 7. Watch semantics

#[tokio::test]
async fn watch_resource_versions_bookmarks_and_timeouts() {
    let (sb, client) = start(PodMode::Simulate).await;
    create_namespace(&client, "w").await;
    let base = "/api/v1/namespaces/w/configmaps";
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "w");
    let a = cms
        .create(&PostParams::default(), &configmap("a", json!({})))
        .await
        .expect("create");
    cms.create(&PostParams::default(), &configmap("b", json!({})))
        .await
        .expect("create");

    // Unset and "0": synthetic ADDED for what exists, then changes.
    for query in ["watch=1", "watch=1&resourceVersion=0"] {
        let mut w = RawWatch::open(&client, &format!("{base}?{query}")).await;
        assert_eq!(w.next_named().await, ev("ADDED", "a"), "{query}");
        assert_eq!(w.next_named().await, ev("ADDED", "b"), "{query}");
    }
    // N: only what changed after N.
    let mut w = RawWatch::open(
        &client,
        &format!("{base}?watch=1&resourceVersion={}", rv_of(&a.metadata)),
    )
    .await;
    assert_eq!(w.next_named().await, ev("ADDED", "b"));
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .expect("patch");
    let e = w.next().await.expect("event");
    assert_eq!(
        (e["type"].clone(), e["object"]["data"]["k"].clone()),
        (json!("MODIFIED"), json!("2"))
    );
    assert_eq!(e["object"]["kind"], "ConfigMap");

    // timeoutSeconds ends the stream; with bookmarks allowed one comes 2s before the end.
    let started = Instant::now();
    let mut w = RawWatch::open(
        &client,
        &format!("{base}?watch=1&resourceVersion=0&timeoutSeconds=1"),
    )
    .await;
    assert_eq!(w.next_named().await, ev("ADDED", "a"));
    assert_eq!(w.next_named().await, ev("ADDED", "b"));
    // The root CA publisher's ConfigMap is in every namespace.
    assert_eq!(w.next_named().await, ev("ADDED", "kube-root-ca.crt"));
    assert!(w.next().await.is_none(), "the stream ends");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let current = get(&client, base).await.1["metadata"]["resourceVersion"].clone();
    let mut w = RawWatch::open(
        &client,
        &format!(
            "{base}?watch=1&resourceVersion={}&timeoutSeconds=3&allowWatchBookmarks=true",
            current.as_str().expect("rv")
        ),
    )
    .await;
    let bookmark = w.next().await.expect("a bookmark before the timeout");
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap");
    assert_eq!(bookmark["object"]["apiVersion"], "v1");
    assert!(bookmark["object"]["metadata"]["resourceVersion"].is_string());
    assert!(w.next().await.is_none(), "then the stream ends");
    sb.shutdown().await;
}

#[tokio::test]
async fn watch_list_sends_initial_events_then_the_end_bookmark() {
    let (sb, client) = start(PodMode::Simulate).await;
    create_namespace(&client, "wl").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "wl");
    for name in ["a", "b"] {
        cms.create(&PostParams::default(), &configmap(name, json!({})))
            .await
            .expect("create");
    }
    let mut w = RawWatch::open(
        &client,
        "/api/v1/namespaces/wl/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    )
    .await;
    assert_eq!(w.next_named().await, ev("ADDED", "a"));
    assert_eq!(w.next_named().await, ev("ADDED", "b"));
    assert_eq!(w.next_named().await, ev("ADDED", "kube-root-ca.crt"));
    let end = w.next().await.expect("bookmark");
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"],
        json!({"k8s.io/initial-events-end": "true"})
    );
    assert!(end["object"]["metadata"]["resourceVersion"].is_string());
    cms.create(&PostParams::default(), &configmap("c", json!({})))
        .await
        .expect("create");
    assert_eq!(w.next_named().await, ev("ADDED", "c"));

    // kube-rs's watcher in streaming-list mode.
    let mut stream =
        watcher::watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, stream.try_next())
            .await
            .expect("event in time")
            .expect("watcher")
        {
            Some(watcher::Event::Init) => {}
            Some(watcher::Event::InitApply(cm)) => initial.push(cm.name_any()),
            Some(watcher::Event::InitDone) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(initial, ["a", "b", "c", "kube-root-ca.crt"]);
    cms.create(&PostParams::default(), &configmap("d", json!({})))
        .await
        .expect("create");
    match tokio::time::timeout(WAIT, stream.try_next())
        .await
        .expect("event in time")
        .expect("watcher")
    {
        Some(watcher::Event::Apply(cm)) => assert_eq!(cm.name_any(), "d"),
        other => panic!("unexpected {other:?}"),
    }
    sb.shutdown().await;
}

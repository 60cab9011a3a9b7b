//! The dashboard in a real headless Chromium (Debian's chromium + chromedriver over WebDriver):
//! live rows, filters, untrusted text shown as text with nothing run, the job page's results and
//! log, the queue view, and the README's screenshots (`scripts/screenshots.sh` sets
//! `TESTJOB_SCREENSHOTS_DIR=docs`; otherwise they go to a temporary directory and are only checked).

mod dashboard_support;

use std::path::PathBuf;

use dashboard_support::{
    Chrome, DEADLINE, Run, Stack, eventually, get, get_with_headers, job, read_sse_until, results,
};
use fantoccini::Locator;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::json;
use testjob_operator::crd::Phase;

async fn create_namespace(stack: &Stack, name: &str) {
    let namespaces: Api<Namespace> = Api::all(stack.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("ns");
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace");
}

async fn wait_phase(stack: &Stack, namespace: &str, name: &str, phase: Phase) {
    let jobs = stack.jobs(namespace);
    eventually(&format!("{name} to be {phase}"), DEADLINE, || async {
        let job = jobs.get(name).await.ok()?;
        (job.status?.phase? == phase).then_some(())
    })
    .await;
}

/// The names of the list's rows, top to bottom.
async fn row_names(chrome: &Chrome) -> Vec<String> {
    let names = chrome
        .js("return [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.name)")
        .await;
    serde_json::from_value(names).expect("names")
}

fn quick(exit_code: i32) -> Run {
    Run {
        seconds: 0.2,
        exit_code,
        results: Some(results(
            &[(
                "only",
                if exit_code == 0 { "passed" } else { "failed" },
                None,
            )],
            "done",
        )),
        log: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_job_appears_and_runs_to_success_live_and_filters_narrow_the_list() {
    let stack = Stack::start(0).await;
    create_namespace(&stack, "other").await;
    stack
        .create("default", &job("filter-a-1", "alpha", &quick(0)))
        .await;
    stack
        .create("default", &job("filter-a-2", "alpha", &quick(0)))
        .await;
    stack
        .create("default", &job("filter-b-1", "beta", &quick(1)))
        .await;
    stack
        .create("other", &job("filter-o-1", "alpha", &quick(0)))
        .await;
    wait_phase(&stack, "default", "filter-a-1", Phase::Succeeded).await;
    wait_phase(&stack, "default", "filter-a-2", Phase::Succeeded).await;
    wait_phase(&stack, "default", "filter-b-1", Phase::Failed).await;
    wait_phase(&stack, "other", "filter-o-1", Phase::Succeeded).await;

    let chrome = Chrome::start(1280, 900).await;
    chrome
        .browser
        .goto(&stack.url())
        .await
        .expect("open the list");
    chrome
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
        )
        .await;
    assert_eq!(row_names(&chrome).await.len(), 4);
    // Marks this page load and records every phase the new row shows: a reload would lose both.
    chrome
        .js(r#"window.__sameLoad = true; window.__seen = [];
            new MutationObserver(() => {
              const b = document.querySelector('tr[data-name="live-1"] .phase');
              if (b && window.__seen[window.__seen.length - 1] !== b.textContent) window.__seen.push(b.textContent);
            }).observe(document.body, {subtree: true, childList: true, characterData: true});"#)
        .await;
    let run = Run {
        seconds: 2.0,
        exit_code: 0,
        results: Some(results(
            &[("login", "passed", None), ("pay", "passed", None)],
            "all good",
        )),
        log: None,
    };
    stack
        .create("default", &job("live-1", "checkout", &run))
        .await;
    chrome
        .until(
            "live-1 to show Succeeded",
            r#"return (window.__seen || []).includes('Succeeded')"#,
        )
        .await;
    let seen: Vec<String> =
        serde_json::from_value(chrome.js("return window.__seen").await).expect("seen");
    let running = seen
        .iter()
        .position(|p| p == "Running")
        .unwrap_or_else(|| panic!("never Running: {seen:?}"));
    let succeeded = seen
        .iter()
        .position(|p| p == "Succeeded")
        .expect("Succeeded");
    assert!(running < succeeded, "{seen:?}");
    assert_eq!(
        chrome.js("return window.__sameLoad === true").await,
        json!(true),
        "the page reloaded"
    );
    assert_eq!(
        row_names(&chrome).await.first().map(String::as_str),
        Some("live-1"),
        "newest first"
    );
    assert_eq!(
        chrome
            .text("tr[data-name=\"live-1\"] td.result")
            .await
            .as_deref(),
        Some("2/2 passed")
    );
    chrome.until("the Succeeded count", r#"return document.querySelector('nav.counts a[data-phase="Succeeded"] b').textContent === '4'"#).await;
    assert_eq!(
        chrome
            .text("nav.counts a[data-phase=\"\"] b")
            .await
            .as_deref(),
        Some("5")
    );

    // The name filter, through the form.
    let q = chrome
        .browser
        .find(Locator::Css("input[name=q]"))
        .await
        .expect("name box");
    q.send_keys("filter-a").await.expect("type");
    chrome
        .browser
        .find(Locator::Css("form.filters button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    chrome
        .until(
            "the filtered list",
            "return location.search.includes('q=filter-a')",
        )
        .await;
    let mut names = row_names(&chrome).await;
    names.sort();
    assert_eq!(names, ["filter-a-1", "filter-a-2"]);

    // Test id, namespace and phase filters, and counts that follow them.
    chrome
        .browser
        .goto(&format!("{}?test=alpha", stack.url()))
        .await
        .expect("goto");
    let mut names = row_names(&chrome).await;
    names.sort();
    assert_eq!(names, ["filter-a-1", "filter-a-2", "filter-o-1"]);
    assert_eq!(
        chrome
            .text("nav.counts a[data-phase=\"\"] b")
            .await
            .as_deref(),
        Some("3")
    );
    chrome
        .browser
        .goto(&format!("{}?test=alpha&namespace=other", stack.url()))
        .await
        .expect("goto");
    assert_eq!(row_names(&chrome).await, ["filter-o-1"]);
    chrome
        .browser
        .goto(&format!("{}?phase=Failed", stack.url()))
        .await
        .expect("goto");
    assert_eq!(row_names(&chrome).await, ["filter-b-1"]);

    // Live rows respect the filters: a job of another test stays out, one of this test comes in.
    chrome
        .browser
        .goto(&format!("{}?test=alpha", stack.url()))
        .await
        .expect("goto");
    chrome
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
        )
        .await;
    stack
        .create("default", &job("late-beta", "beta", &quick(0)))
        .await;
    stack
        .create("default", &job("late-alpha", "alpha", &quick(0)))
        .await;
    chrome
        .until(
            "late-alpha to appear",
            r#"return !!document.querySelector('tr[data-name="late-alpha"]')"#,
        )
        .await;
    wait_phase(&stack, "default", "late-beta", Phase::Succeeded).await;
    chrome.until("late-alpha to succeed", r#"return document.querySelector('tr[data-name="late-alpha"] .phase').textContent === 'Succeeded'"#).await;
    assert!(!row_names(&chrome).await.contains(&"late-beta".to_string()));

    chrome.close().await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_between_rendering_a_page_and_subscribing_are_replayed() {
    let stack = Stack::start(0).await;
    let (_, page) = get(&stack.url()).await.expect("list");
    let seq: u64 = page
        .split("data-seq=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the page's change number");
    // The job is created (and run) after the page was rendered, before its stream is opened.
    stack
        .create("default", &job("in-between", "gap", &quick(0)))
        .await;
    wait_phase(&stack, "default", "in-between", Phase::Succeeded).await;
    let seen = read_sse_until(&format!("{}events?since={seq}", stack.url()), "Succeeded").await;
    assert!(seen.contains("\"name\":\"in-between\""), "{seen}");
    assert!(
        seen.contains(&format!("id: {}", seq + 1)),
        "events carry their number: {seen}"
    );
    // A number the server never had asks the browser to reload.
    let seen = read_sse_until(
        &format!("{}events?since={}", stack.url(), seq + 1000),
        "reload",
    )
    .await;
    assert!(seen.contains("event: reload"), "{seen}");
    stack.shutdown().await;
}

const SCRIPT_PAYLOAD: &str = "<script>window.__pwned = 'script'</script>";
const IMG_PAYLOAD: &str = "<img src=x onerror=\"window.__pwned = 'img'\">";

/// Asserts that nothing the payloads carry ran or became an element.
async fn nothing_ran(chrome: &Chrome) {
    assert_eq!(
        chrome.js("return typeof window.__pwned").await,
        json!("undefined")
    );
    assert_eq!(
        chrome.js("return document.images.length").await,
        json!(0),
        "an <img> was injected"
    );
    assert_eq!(
        chrome
            .js("return [...document.scripts].map(s => s.getAttribute('src'))")
            .await,
        json!(["/static/app.js"]),
        "a <script> was injected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_text_shows_as_text_and_the_job_page_shows_results_and_log() {
    let stack = Stack::start(0).await;
    let chrome = Chrome::start(1280, 900).await;
    chrome
        .browser
        .goto(&stack.url())
        .await
        .expect("open the list");
    chrome
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
        )
        .await;

    let message = format!("card declined {SCRIPT_PAYLOAD}{IMG_PAYLOAD}");
    let run = Run {
        seconds: 0.5,
        exit_code: 1,
        results: Some(results(
            &[
                ("login", "passed", None),
                ("pay <b>now</b>", "failed", Some(IMG_PAYLOAD)),
                ("logout", "skipped", None),
            ],
            &message,
        )),
        log: Some(format!(
            "starting checkout\n{SCRIPT_PAYLOAD}\npayment failed\n"
        )),
    };
    stack.create("default", &job("xss", "payments", &run)).await;
    // The row built live by app.js.
    chrome.until("xss to fail", r#"const b = document.querySelector('tr[data-name="xss"] .phase'); return b && b.textContent === 'Failed'"#).await;
    let shown = chrome
        .text("tr[data-name=\"xss\"] .msg")
        .await
        .expect("message snippet");
    assert!(
        shown.contains(SCRIPT_PAYLOAD) && shown.contains("<img src=x"),
        "{shown}"
    );
    nothing_ran(&chrome).await;
    // The same row rendered by the server.
    chrome.browser.refresh().await.expect("reload");
    let shown = chrome
        .text("tr[data-name=\"xss\"] .msg")
        .await
        .expect("message snippet");
    assert!(shown.contains(SCRIPT_PAYLOAD), "{shown}");
    nothing_ran(&chrome).await;

    // Every page carries the CSP that forbids inline scripts.
    for path in ["", "jobs/default/xss", "static/app.js", "no-such-page"] {
        let (_, headers, _) = get_with_headers(&format!("{}{path}", stack.url()))
            .await
            .expect("get");
        let csp = headers.get("content-security-policy").map(String::as_str);
        assert_eq!(csp, Some(testjob_operator::dashboard::CSP), "/{path}");
        assert!(!testjob_operator::dashboard::CSP.contains("unsafe-inline"));
    }

    // The job page: results with failures first, searchable; the message; the log; events.
    chrome
        .browser
        .goto(&format!("{}jobs/default/xss", stack.url()))
        .await
        .expect("job page");
    let steps = chrome.js("return [...document.querySelectorAll('#results tbody tr')].map(r => r.cells[1].textContent)").await;
    assert_eq!(steps, json!(["pay <b>now</b>", "login", "logout"]));
    assert_eq!(
        chrome.text("#results tbody tr td.msg").await.as_deref(),
        Some(IMG_PAYLOAD)
    );
    let shown = chrome.text("#message").await.expect("message");
    assert!(shown.ends_with(&message), "{shown}");
    let log = chrome.text("#log").await.expect("log");
    assert!(
        log.contains("starting checkout")
            && log.contains(SCRIPT_PAYLOAD)
            && log.contains("payment failed"),
        "{log}"
    );
    assert!(chrome.text("h1").await.expect("title").contains("Failed"));
    let events = chrome.text("main").await.expect("page text");
    assert!(events.contains("Failed"), "{events}");
    nothing_ran(&chrome).await;
    let search = chrome
        .browser
        .find(Locator::Css("#results-filter"))
        .await
        .expect("search box");
    search.send_keys("login").await.expect("type");
    chrome.until("the results search", "return [...document.querySelectorAll('#results tbody tr')].filter(r => !r.hidden).length === 1").await;

    // A running job's log is followed live; the page turns to the final status by itself.
    let run = Run {
        seconds: 3.0,
        exit_code: 0,
        results: Some(results(&[("stream", "passed", None)], "streamed")),
        log: Some("hello from the runner\n".into()),
    };
    stack
        .create("default", &job("streamed", "logs", &run))
        .await;
    wait_phase(&stack, "default", "streamed", Phase::Running).await;
    chrome
        .browser
        .goto(&format!("{}jobs/default/streamed", stack.url()))
        .await
        .expect("job page");
    chrome.until("the live log", "const l = document.getElementById('log'); return l && l.textContent.includes('hello from the runner')").await;
    chrome.until("the page to show Succeeded", "const t = document.getElementById('job-title'); return t && t.dataset.phase === 'Succeeded'").await;
    let log = chrome.text("#log").await.expect("log after the run");
    assert!(log.contains("hello from the runner"), "{log}");
    assert_eq!(
        chrome
            .text("#results tbody tr td:nth-child(2)")
            .await
            .as_deref(),
        Some("stream")
    );

    // A job whose Pod was cleaned up says its log is gone.
    let mut cleaned = job("cleaned", "cleanup", &quick(0));
    cleaned.spec.pod_cleanup = Some(testjob_operator::crd::PodCleanup::Always);
    stack.create("default", &cleaned).await;
    wait_phase(&stack, "default", "cleaned", Phase::Succeeded).await;
    let pods: Api<k8s_openapi::api::core::v1::Pod> =
        Api::namespaced(stack.client.clone(), "default");
    eventually("the cleaned Pod to go", DEADLINE, || async {
        pods.get_opt("cleaned-1")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    chrome
        .browser
        .goto(&format!("{}jobs/default/cleaned", stack.url()))
        .await
        .expect("job page");
    let gone = chrome.text("#log-gone").await.expect("log gone note");
    assert!(gone.contains("no longer available"), "{gone}");

    chrome.close().await;
    stack.shutdown().await;
}

/// Gives every step a plausible duration, for the screenshots.
fn with_durations(mut results: serde_json::Value) -> serde_json::Value {
    if let Some(steps) = results["results"].as_array_mut() {
        for (i, step) in steps.iter_mut().enumerate() {
            if step["status"] != "skipped" {
                step["durationMs"] = json!([212, 480, 133, 1904, 0][i % 5]);
            }
        }
    }
    results
}

fn screenshots_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    match std::env::var_os("TESTJOB_SCREENSHOTS_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let dir = if dir.is_absolute() {
                dir
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir)
            };
            std::fs::create_dir_all(&dir).expect("screenshots dir");
            (dir, None)
        }
        None => {
            let tmp = tempfile::tempdir().expect("tempdir");
            (tmp.path().to_path_buf(), Some(tmp))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_view_shows_start_order_live_and_screenshots_are_made() {
    let stack = Stack::start(1).await;
    create_namespace(&stack, "payments").await;
    let steps = |failed: bool| {
        let mut s = vec![
            ("open home page", "passed", None),
            ("log in", "passed", None),
            ("add to cart", "passed", None),
        ];
        if failed {
            s.push((
                "pay by card",
                "failed",
                Some("expected HTTP 200, got 502 from /api/pay"),
            ));
            s.push(("receipt email", "skipped", None));
        } else {
            s.push(("pay by card", "passed", None));
        }
        s
    };
    let done = |failed: bool, seconds: f64| Run {
        seconds,
        exit_code: i32::from(failed),
        results: Some(with_durations(results(
            &steps(failed),
            if failed {
                "1 of 5 steps failed"
            } else {
                "4 of 4 steps passed"
            },
        ))),
        log: Some(if failed {
            "open home page ... ok (212 ms)\nlog in ... ok (480 ms)\nadd to cart ... ok (133 ms)\npay by card ... FAILED\n  expected HTTP 200, got 502 from /api/pay\nreceipt email ... skipped\n1 of 5 steps failed\n".to_string()
        } else {
            "open home page ... ok\nlog in ... ok\nadd to cart ... ok\npay by card ... ok\n"
                .to_string()
        }),
    };
    for (ns, name, test, failed) in [
        ("default", "checkout-nightly-1", "checkout-flow", false),
        ("payments", "card-payments-4711", "4711", true),
        ("default", "smoke-220", "220", false),
        ("payments", "refunds-88", "refunds", false),
    ] {
        stack.create(ns, &job(name, test, &done(failed, 0.3))).await;
        wait_phase(
            &stack,
            ns,
            name,
            if failed {
                Phase::Failed
            } else {
                Phase::Succeeded
            },
        )
        .await;
    }
    stack
        .create(
            "default",
            &job("checkout-long-run", "checkout-flow", &done(false, 600.0)),
        )
        .await;
    wait_phase(&stack, "default", "checkout-long-run", Phase::Running).await;
    let mut low = job("search-index-9", "search", &done(false, 1.0));
    low.spec.priority = Some(0);
    stack.create("default", &low).await;
    let mut high = job("login-regression", "login", &done(false, 1.0));
    high.spec.priority = Some(10);
    stack.create("payments", &high).await;
    let mut cancelled = job("flaky-upload", "upload", &done(false, 1.0));
    cancelled.spec.cancel = Some(true);
    stack.create("default", &cancelled).await;
    wait_phase(&stack, "default", "flaky-upload", Phase::Cancelled).await;
    wait_phase(&stack, "default", "search-index-9", Phase::Pending).await;

    let chrome = Chrome::start(1280, 900).await;
    chrome
        .browser
        .goto(&format!("{}queue", stack.url()))
        .await
        .expect("queue page");
    chrome
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
        )
        .await;
    assert_eq!(chrome.text("#q-running").await.as_deref(), Some("1"));
    assert_eq!(chrome.text("#q-waiting").await.as_deref(), Some("2"));
    let order = "return [...document.querySelectorAll('#queue-waiting tbody tr')].map(r => r.cells[0].textContent + ' ' + r.cells[2].textContent)";
    assert_eq!(
        chrome.js(order).await,
        json!(["1 login-regression", "2 search-index-9"])
    );
    // A more urgent job goes to the front, without reloading.
    let mut urgent = job("hotfix-check", "hotfix", &done(false, 1.0));
    urgent.spec.priority = Some(100);
    stack.create("default", &urgent).await;
    chrome
        .until(
            "the new queue order",
            &format!("{order}.join() === '1 hotfix-check,2 login-regression,3 search-index-9'"),
        )
        .await;
    assert_eq!(chrome.text("#q-waiting").await.as_deref(), Some("3"));

    // The README's screenshots.
    let (dir, _tmp) = screenshots_dir();
    chrome.browser.goto(&stack.url()).await.expect("list");
    chrome
        .until(
            "the live stream",
            "return document.getElementById('live').textContent === 'live'",
        )
        .await;
    chrome.screenshot(&dir.join("dashboard-list.png")).await;
    chrome
        .browser
        .set_window_size(1280, 1640)
        .await
        .expect("resize");
    chrome
        .browser
        .goto(&format!("{}jobs/payments/card-payments-4711", stack.url()))
        .await
        .expect("job page");
    chrome
        .until("the results", "return !!document.getElementById('results')")
        .await;
    chrome.screenshot(&dir.join("dashboard-job.png")).await;
    chrome
        .browser
        .set_window_size(390, 844)
        .await
        .expect("phone size");
    chrome.browser.goto(&stack.url()).await.expect("list");
    // On a phone the table turns into one card per job, all of it on screen.
    let width = chrome
        .js("return document.documentElement.scrollWidth")
        .await;
    assert!(
        width.as_i64().is_some_and(|w| w <= 400),
        "the list is {width} px wide on a phone"
    );
    chrome.screenshot(&dir.join("dashboard-phone.png")).await;

    chrome.close().await;
    stack.shutdown().await;
}

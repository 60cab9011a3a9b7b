//! Unit tests of `table::custom`.

use super::super::tests::now;
use super::super::{IncludeObject, to_table};
use super::*;
use crate::resource_types::type_from_crd;
use serde_json::json;

fn column(name: &str, type_: &str, path: &str) -> Value {
    json!({"name": name, "type": type_, "jsonPath": path})
}

fn crd(columns: Value) -> crate::resource_types::ResourceType {
    type_from_crd(&json!({
        "metadata": {"name": "testruns.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "testruns", "kind": "TestRun"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "additionalPrinterColumns": columns
            }]
        }
    }))
    .unwrap()
}

fn run() -> Value {
    json!({
        "apiVersion": "example.com/v1",
        "kind": "TestRun",
        "metadata": {"name": "nightly", "namespace": "ci", "creationTimestamp": "2024-04-29T09:00:00Z"},
        "spec": {"suite": "e2e", "parallel": 4, "items": [{"name": "first"}, {"name": "second"}]},
        "status": {
            "phase": "Running",
            "passed": 12,
            "ratio": 0.5,
            "done": false,
            "startedAt": "2024-05-01T11:57:30Z",
            "conditions": [
                {"type": "Scheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Waiting"}
            ],
            "labels": {"b": "2", "a": "<1>"}
        }
    })
}

fn cells(rt: &crate::resource_types::ResourceType, obj: Value) -> Value {
    to_table(rt, &[obj], &IncludeObject::None, json!({}), false, now())["rows"][0]["cells"].clone()
}

#[test]
fn printer_columns_keep_their_types() {
    let rt = crd(json!([
        column("Phase", "string", ".status.phase"),
        column("Passed", "integer", ".status.passed"),
        column("Ratio", "number", ".status.ratio"),
        column("Done", "boolean", ".status.done"),
        column("Started", "date", ".status.startedAt"),
        column("First", "string", ".spec.items[0].name"),
        column("Any", "string", ".spec.items[*].name"),
        column(
            "Ready",
            "string",
            ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        column(
            "Reason",
            "string",
            ".status.conditions[?(@.type == 'Ready')].reason"
        ),
        column("Missing", "string", ".status.nothing"),
        column("MissingInt", "integer", ".status.nope"),
        column("Age", "date", ".metadata.creationTimestamp"),
    ]));
    assert_eq!(
        cells(&rt, run()),
        json!([
            "nightly", "Running", 12, 0.5, false, "2m30s", "first", "first", "False", "Waiting",
            null, null, "2d3h"
        ])
    );
}

#[test]
fn column_definitions_follow_the_crd() {
    let rt = crd(json!([
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Where it is"},
        {"name": "Passed", "type": "integer", "format": "int32", "jsonPath": ".status.passed", "priority": 1},
    ]));
    let table = to_table(&rt, &[run()], &IncludeObject::None, json!({}), false, now());
    let cols = &table["columnDefinitions"];
    assert_eq!(cols[0]["name"], "Name");
    assert_eq!(
        cols[1],
        json!({"name": "Phase", "type": "string", "format": "", "description": "Where it is", "priority": 0})
    );
    assert_eq!(
        cols[2],
        json!({
            "name": "Passed", "type": "integer", "format": "int32", "priority": 1,
            "description": "Custom resource definition column (in JSONPath format): .status.passed"
        })
    );
}

#[test]
fn crd_without_columns_gets_age() {
    let rt = crd(json!([]));
    let table = to_table(&rt, &[run()], &IncludeObject::None, json!({}), false, now());
    assert_eq!(
        table["columnDefinitions"][1],
        json!({"name": "Age", "type": "date", "format": "", "description": CREATION_TIMESTAMP_DOC, "priority": 0})
    );
    assert_eq!(table["rows"][0]["cells"], json!(["nightly", "2d3h"]));
    let mut fresh = run();
    fresh["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("creationTimestamp");
    assert_eq!(cells(&rt, fresh), json!(["nightly", null]));
}

#[test]
fn string_columns_print_like_client_go() {
    let rt = crd(json!([
        column("Parallel", "string", ".spec.parallel"),
        column("Done", "string", ".status.done"),
        column("Labels", "string", ".status.labels"),
        column("Items", "string", ".spec.items"),
        column("Null", "string", ".status.gone"),
        column("Big", "string", ".status.big"),
    ]));
    let mut obj = run();
    obj["status"]["gone"] = Value::Null;
    obj["status"]["big"] = json!(1234567.5);
    assert_eq!(
        cells(&rt, obj),
        json!([
            "nightly",
            "4",
            "false",
            "{\"a\":\"\\u003c1\\u003e\",\"b\":\"2\"}",
            "[{\"name\":\"first\"},{\"name\":\"second\"}]",
            "<no value>",
            "1.2345675e+06"
        ])
    );
}

#[test]
fn mismatched_types_and_bad_dates() {
    let rt = crd(json!([
        column("N", "integer", ".status.ratio"),
        column("F", "number", ".status.passed"),
        column("B", "boolean", ".status.phase"),
        column("D", "date", ".status.phase"),
        column("Z", "date", ".status.zero"),
    ]));
    let mut obj = run();
    obj["status"]["zero"] = json!("0001-01-01T00:00:00Z");
    assert_eq!(
        cells(&rt, obj),
        json!(["nightly", 0, 12, null, "<invalid>", "<unknown>"])
    );
}

#[test]
fn escaped_and_dashed_field_names() {
    let rt = crd(json!([
        column(
            "App",
            "string",
            ".metadata.labels.app\\.kubernetes\\.io/name"
        ),
        column("Dash", "string", ".metadata.labels.team-name"),
        column("Quoted", "string", ".metadata.labels['team-name']"),
        column("Last", "string", ".spec.items[-1].name"),
        column("Slice", "string", ".spec.items[1:].name"),
        column("Deep", "string", "..suite"),
    ]));
    let mut obj = run();
    obj["metadata"]["labels"] = json!({"app.kubernetes.io/name": "runner", "team-name": "qa"});
    assert_eq!(
        cells(&rt, obj),
        json!(["nightly", "runner", "qa", "qa", "second", "second", "e2e"])
    );
}

#[test]
fn unparsable_path_stops_the_columns() {
    let rt = crd(json!([
        column("Phase", "string", ".status.phase"),
        column("Bad", "string", ".status[0"),
        column("After", "string", ".status.passed"),
    ]));
    let table = to_table(&rt, &[run()], &IncludeObject::None, json!({}), false, now());
    assert_eq!(table["columnDefinitions"].as_array().unwrap().len(), 2);
    assert_eq!(table["rows"][0]["cells"], json!(["nightly", "Running"]));
}

#[test]
fn translation() {
    let t = |p: &str| translate(p);
    assert_eq!(
        t(".status.phase"),
        Ok(Some(r#"$["status"]["phase"]"#.into()))
    );
    assert_eq!(t("$.a[0]"), Ok(Some(r#"$["a"][0]"#.into())));
    assert_eq!(t(".a[*].b"), Ok(Some(r#"$["a"][:]["b"]"#.into())));
    assert_eq!(t(".a.*"), Ok(Some(r#"$["a"][*]"#.into())));
    assert_eq!(t(".a[0,2]"), Ok(Some(r#"$["a"][0,2]"#.into())));
    assert_eq!(t(".a[1:3:2]"), Ok(Some(r#"$["a"][1:3:2]"#.into())));
    assert_eq!(t(".a[::0]"), Ok(None));
    assert_eq!(t(".a[]"), Ok(Some(r#"$["a"][0]"#.into())));
    assert_eq!(
        t(r#".c[?(@.x>=2)].y"#),
        Ok(Some(r#"$["c"][?(@["x"] >= 2)]["y"]"#.into()))
    );
    assert_eq!(t(".c[?(@.x)]"), Ok(Some(r#"$["c"][?(@["x"])]"#.into())));
    assert_eq!(t(".c[?(@.x=true)]"), Ok(None));
    assert_eq!(t("\"literal\""), Ok(None));
    assert_eq!(t(".a[0"), Err(()));
    assert_eq!(t(".a[x]"), Err(()));
    assert_eq!(t("...a"), Ok(Some(r#"$..["a"]"#.into())));
    assert_eq!(t("....a"), Err(()));
    assert_eq!(t(".a}trailing"), Ok(Some(r#"$["a"]"#.into())));
}

#[test]
fn go_float_formatting() {
    assert_eq!(gofmt::float(0.5), "0.5");
    assert_eq!(gofmt::float(100000.0), "100000");
    assert_eq!(gofmt::float(1000000.0), "1e+06");
    assert_eq!(gofmt::float(1234567.5), "1.2345675e+06");
    assert_eq!(gofmt::float(0.0001), "0.0001");
    assert_eq!(gofmt::float(0.00001), "1e-05");
    assert_eq!(gofmt::float(-2.5), "-2.5");
    assert_eq!(gofmt::json(&Value::from(1e21)), "1e+21");
    assert_eq!(gofmt::json(&Value::from(1e-7)), "1e-7");
    assert_eq!(gofmt::json(&Value::from(1234567.5)), "1234567.5");
    assert_eq!(gofmt::json(&Value::from(3.0)), "3");
}

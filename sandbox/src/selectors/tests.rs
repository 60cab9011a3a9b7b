//! Unit tests of `selectors`.

use super::*;
use serde_json::json;

fn labels(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[test]
fn equality_operators() {
    let l = labels(json!({"app": "web", "tier": "front"}));
    assert!(LabelSelector::parse("app=web").unwrap().matches(&l));
    assert!(LabelSelector::parse("app==web").unwrap().matches(&l));
    assert!(!LabelSelector::parse("app!=web").unwrap().matches(&l));
    assert!(LabelSelector::parse("app!=db").unwrap().matches(&l));
    // A missing label is "not equal".
    assert!(LabelSelector::parse("zone!=a").unwrap().matches(&l));
    assert!(
        LabelSelector::parse("app=web,tier=front")
            .unwrap()
            .matches(&l)
    );
    assert!(
        !LabelSelector::parse("app=web,tier=back")
            .unwrap()
            .matches(&l)
    );
    // `x=` selects an empty value, not a missing label.
    assert!(!LabelSelector::parse("zone=").unwrap().matches(&l));
    assert!(
        LabelSelector::parse("zone=")
            .unwrap()
            .matches(&labels(json!({"zone": ""})))
    );
}

#[test]
fn set_operators() {
    let l = labels(json!({"env": "prod", "app": "web"}));
    assert!(
        LabelSelector::parse("env in (prod,staging)")
            .unwrap()
            .matches(&l)
    );
    assert!(!LabelSelector::parse("env in (dev)").unwrap().matches(&l));
    assert!(
        LabelSelector::parse("env notin (dev, qa)")
            .unwrap()
            .matches(&l)
    );
    assert!(
        !LabelSelector::parse("env notin (prod)")
            .unwrap()
            .matches(&l)
    );
    assert!(
        LabelSelector::parse("missing notin (prod)")
            .unwrap()
            .matches(&l)
    );
    assert!(LabelSelector::parse("env").unwrap().matches(&l));
    assert!(!LabelSelector::parse("missing").unwrap().matches(&l));
    assert!(LabelSelector::parse("!missing").unwrap().matches(&l));
    assert!(!LabelSelector::parse("!env").unwrap().matches(&l));
    assert!(
        LabelSelector::parse("app,!missing,env in (prod)")
            .unwrap()
            .matches(&l)
    );
    // `in` is an ordinary word in value position.
    let s = LabelSelector::parse("x in (in,notin)").unwrap();
    assert!(s.matches(&labels(json!({"x": "notin"}))));
}

#[test]
fn numeric_comparisons() {
    let l = labels(json!({"replicas": "3"}));
    assert!(LabelSelector::parse("replicas>2").unwrap().matches(&l));
    assert!(!LabelSelector::parse("replicas>3").unwrap().matches(&l));
    assert!(LabelSelector::parse("replicas<4").unwrap().matches(&l));
    assert!(!LabelSelector::parse("other<4").unwrap().matches(&l));
    assert_eq!(
        LabelSelector::parse("a>b").unwrap_err(),
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' \
         operators, the value must be an integer"
    );
}

#[test]
fn empty_and_nothing() {
    let l = labels(json!({"a": "b"}));
    let all = LabelSelector::parse("").unwrap();
    assert!(all.is_empty() && all.matches(&l));
    assert!(LabelSelector::parse("  ").unwrap().is_empty());
    let none = LabelSelector::nothing();
    assert!(!none.is_empty() && !none.matches(&l));
}

#[test]
fn canonical_string() {
    let s = LabelSelector::parse("z in (b,a), !y, x=1, w").unwrap();
    assert_eq!(s.to_string(), "w,x=1,!y,z in (a,b)");
}

#[test]
fn parse_errors_match_kube_apiserver() {
    let cases = [
        (
            "a b",
            "found 'b', expected: in, notin, =, ==, !=, gt, lt",
            "unable to parse requirement: ",
        ),
        ("a=b c", "found 'c', expected: ',' or 'end of string'", ""),
        ("a=b,", "found '', expected: identifier after ','", ""),
        (
            "=a",
            "found '=', expected: !, identifier, or 'end of string'",
            "",
        ),
        (
            "a in b",
            "found 'b' expected: '('",
            "unable to parse requirement: ",
        ),
        (
            "a in (b",
            "found '', expected: ',' or ')'",
            "unable to parse requirement: ",
        ),
        (
            "a in (=)",
            "found '=', expected: ',', ')' or identifier",
            "unable to parse requirement: ",
        ),
        (
            "a==(",
            "found '(', expected: identifier",
            "unable to parse requirement: ",
        ),
        (
            "!",
            "found '', expected: identifier",
            "unable to parse requirement: ",
        ),
    ];
    for (input, want, prefix) in cases {
        assert_eq!(
            LabelSelector::parse(input).unwrap_err(),
            format!("{prefix}{want}"),
            "input {input:?}"
        );
    }
}

#[test]
fn invalid_keys_and_values() {
    assert_eq!(
        LabelSelector::parse("a$b=c").unwrap_err(),
        "unable to parse requirement: <nil>: Invalid value: \"a$b\": name part must consist of \
         alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
         character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is \
         '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    );
    assert_eq!(
        LabelSelector::parse("a=b$").unwrap_err(),
        "unable to parse requirement: values[0][a]: Invalid value: \"b$\": a valid label must be \
         an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start \
         and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', \
         regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    let err = LabelSelector::parse("Example.com/x=y").unwrap_err();
    assert!(
        err.starts_with(
            "unable to parse requirement: <nil>: Invalid value: \"Example.com/x\": prefix part \
             a lowercase RFC 1123 subdomain must consist of"
        ),
        "{err}"
    );
    assert!(LabelSelector::parse("example.com/x=y").is_ok());
    assert!(
        LabelSelector::parse("a/b/c")
            .unwrap_err()
            .contains("a valid label key must consist")
    );
}

#[test]
fn from_metav1_label_selector() {
    let sel = label_selector_from_json(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["prod", "qa"]},
            {"key": "canary", "operator": "DoesNotExist"}
        ]
    }))
    .unwrap();
    assert!(sel.matches(&labels(json!({"app": "web", "env": "qa"}))));
    assert!(!sel.matches(&labels(json!({"app": "web", "env": "qa", "canary": "1"}))));
    assert!(!sel.matches(&labels(json!({"app": "web"}))));
    assert_eq!(sel.to_string(), "app=web,!canary,env in (prod,qa)");

    assert!(label_selector_from_json(&json!({})).unwrap().is_empty());
    let none = label_selector_from_json(&Value::Null).unwrap();
    assert!(!none.matches(&labels(json!({}))));

    assert_eq!(
        label_selector_from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]})
        )
        .unwrap_err(),
        "\"Equals\" is not a valid label selector operator"
    );
    assert_eq!(
        label_selector_from_json(&json!({"matchExpressions": [{"key": "a", "operator": "In"}]}))
            .unwrap_err(),
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        label_selector_from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
        )
        .unwrap_err(),
        "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
    );
    let two = label_selector_from_json(&json!({"matchLabels": {"b@d": "v!"}})).unwrap_err();
    assert!(
        two.starts_with("[key: Invalid value: \"b@d\": name part"),
        "{two}"
    );
    assert!(
        two.contains(", values[0][b@d]: Invalid value: \"v!\": a valid label"),
        "{two}"
    );
}

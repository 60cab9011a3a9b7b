//! The PodDisruptionBudget printer (`printPodDisruptionBudget` in
//! `pkg/printers/internalversion/printers.go`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::{ColumnDef, Row, age_column, name_of};
use super::age;

pub(in super::super) fn pdb_columns() -> Vec<ColumnDef> {
    vec![
        ColumnDef::name_column(),
        ColumnDef::new(
            "Min Available",
            "string",
            "The minimum number or percentage of available pods this budget requires.",
        ),
        ColumnDef::new(
            "Max Unavailable",
            "string",
            "The maximum number or percentage of unavailable pods this budget requires.",
        ),
        ColumnDef::new(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time.",
        ),
        age_column(),
    ]
}

/// An IntOrString as its `String()`, or "N/A" when unset.
fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "N/A".into(),
    }
}

pub(in super::super) fn print_pdb(obj: &Value, now: DateTime<Utc>) -> Row {
    Row::cells(vec![
        name_of(obj).into(),
        int_or_string(&obj["spec"]["minAvailable"]).into(),
        int_or_string(&obj["spec"]["maxUnavailable"]).into(),
        obj["status"]["disruptionsAllowed"]
            .as_i64()
            .unwrap_or(0)
            .into(),
        age(obj, now),
    ])
}

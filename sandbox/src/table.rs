//! Server-side printing: turning objects into the `meta.k8s.io` `Table` that `kubectl get`
//! asks for, the way kube-apiserver builds it.
//!
//! Three convertors exist in kube-apiserver and each is mirrored here:
//! - custom resources use the CRD's `additionalPrinterColumns` (apiextensions-apiserver
//!   `tableconvertor.go`), in `table/custom.rs`;
//! - built-in kinds with a printer in `pkg/printers/internalversion/printers.go` use it, in
//!   `table/builtin.rs` and `table/pod.rs`;
//! - every other kind (Roles, ClusterRoles, CustomResourceDefinitions) gets the default
//!   `Name` / `Created At` table of `apiserver/pkg/registry/rest/table.go`.
//!
//! Built-in printers run with `Wide: true` on the server, so rows always carry the
//! priority-1 cells; kubectl hides those columns unless `-o wide`.
//! Accept-header negotiation lives in `table/accept.rs`.

mod accept;
mod builtin;
mod custom;
mod pod;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::resource_types::ResourceType;

pub use accept::{TableVersion, table_content_type};

/// What each row's `object` holds (`includeObject` query parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// `object` is `null`.
    None,
    /// `object` is a `PartialObjectMetadata` (the default).
    Metadata,
    /// `object` is the whole object.
    Object,
}

/// Parses the `includeObject` query parameter (its first value); absent or empty means
/// `Metadata`. The error is the message of kube-apiserver's 400 BadRequest.
///
/// kube-apiserver validates it only when the response is negotiated as a Table.
pub fn parse_include_object(value: Option<&str>) -> Result<IncludeObject, String> {
    match value.unwrap_or_default() {
        "" | "Metadata" => Ok(IncludeObject::Metadata),
        "Object" => Ok(IncludeObject::Object),
        "None" => Ok(IncludeObject::None),
        other => Err(format!(
            "Unable to convert to Table as requested: includeObject: Invalid value: {}: \
             must be 'Metadata', 'Object', 'None', or empty",
            crate::gofmt::json_string(other)
        )),
    }
}

/// Builds a `meta.k8s.io/v1` Table of `objects` (whole JSON objects of type `rt`).
///
/// `list_meta` supplies the table's `metadata` (`resourceVersion`, `continue`,
/// `remainingItemCount`; empty values are left out). `no_headers` drops the column
/// definitions, as kube-apiserver does for every watch event after the first one.
/// `now` is the instant ages are measured from.
pub fn to_table(
    rt: &ResourceType,
    objects: &[Value],
    include: &IncludeObject,
    list_meta: Value,
    no_headers: bool,
    now: DateTime<Utc>,
) -> Value {
    to_table_version(
        TableVersion::V1,
        rt,
        objects,
        include,
        list_meta,
        no_headers,
        now,
    )
}

/// [`to_table`] for the negotiated Table version (`meta.k8s.io/v1` or `v1beta1`); the
/// version also names the rows' `PartialObjectMetadata`.
pub fn to_table_version(
    version: TableVersion,
    rt: &ResourceType,
    objects: &[Value],
    include: &IncludeObject,
    list_meta: Value,
    no_headers: bool,
    now: DateTime<Utc>,
) -> Value {
    let printed = print(rt, objects, now);
    let rows: Vec<Value> = printed
        .rows
        .into_iter()
        .zip(objects)
        .map(|(row, obj)| {
            let mut out = Map::new();
            out.insert("cells".into(), Value::Array(row.cells));
            if let Some(conditions) = row.conditions {
                out.insert("conditions".into(), conditions);
            }
            out.insert(
                "object".into(),
                row_object(rt, obj, include, version.api_version()),
            );
            Value::Object(out)
        })
        .collect();
    // Go encodes a nil slice as null: the default convertor appends to a nil slice and no
    // convertor sets the columns when headers are off.
    let rows = if rows.is_empty() && printed.nil_rows_when_empty {
        Value::Null
    } else {
        Value::Array(rows)
    };
    let columns = if no_headers {
        Value::Null
    } else {
        Value::Array(printed.columns.iter().map(ColumnDef::to_json).collect())
    };
    json!({
        "kind": "Table",
        "apiVersion": version.api_version(),
        "metadata": table_metadata(list_meta),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// Age formatting of `k8s.io/apimachinery/pkg/util/duration.HumanDuration`: about two
/// significant figures ("45s", "3m20s", "15m", "2h5m", "10h", "3d4h", "30d", "2y45d", "9y").
pub fn human_duration(d: chrono::Duration) -> String {
    // Up to a second and a bit in the future counts as now (clock skew between machines).
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// A column definition as `metav1.TableColumnDefinition` serializes it.
#[derive(Clone, Debug, PartialEq)]
struct ColumnDef {
    name: String,
    type_: String,
    format: String,
    description: String,
    priority: i32,
}

impl ColumnDef {
    fn new(name: &str, type_: &str, description: &str) -> Self {
        ColumnDef {
            name: name.into(),
            type_: type_.into(),
            format: String::new(),
            description: description.into(),
            priority: 0,
        }
    }

    /// The `Name` column every convertor starts with.
    fn name_column() -> Self {
        ColumnDef {
            format: "name".into(),
            ..ColumnDef::new("Name", "string", NAME_DOC)
        }
    }

    fn wide(self) -> Self {
        ColumnDef {
            priority: 1,
            ..self
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// One printed row before the `object` is attached.
#[derive(Debug, PartialEq)]
struct Row {
    cells: Vec<Value>,
    /// `conditions` of the row (pods that finished), left out when `None`.
    conditions: Option<Value>,
}

impl Row {
    fn cells(cells: Vec<Value>) -> Self {
        Row {
            cells,
            conditions: None,
        }
    }
}

struct Printed {
    columns: Vec<ColumnDef>,
    rows: Vec<Row>,
    nil_rows_when_empty: bool,
}

/// `metav1.ObjectMeta` field docs, as the convertors use them for descriptions.
const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATION_TIMESTAMP_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn print(rt: &ResourceType, objects: &[Value], now: DateTime<Utc>) -> Printed {
    if let Some(info) = &rt.custom {
        let convertor = custom::Convertor::new(&info.printer_columns);
        return Printed {
            rows: objects.iter().map(|o| convertor.row(o, now)).collect(),
            columns: convertor.columns,
            nil_rows_when_empty: false,
        };
    }
    if let Some(printer) = builtin::printer_for(&rt.group, &rt.kind) {
        return Printed {
            rows: objects.iter().map(|o| (printer.print)(o, now)).collect(),
            columns: printer.columns,
            nil_rows_when_empty: false,
        };
    }
    Printed {
        columns: vec![
            ColumnDef::name_column(),
            ColumnDef::new("Created At", "date", CREATION_TIMESTAMP_DOC),
        ],
        rows: objects
            .iter()
            .map(|o| {
                let created = parse_time(&o["metadata"]["creationTimestamp"])
                    .map(crate::timestamp::rfc3339)
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
                Row::cells(vec![name_of(o).into(), created.into()])
            })
            .collect(),
        nil_rows_when_empty: true,
    }
}

/// The row's `object` for the requested `includeObject`.
fn row_object(
    rt: &ResourceType,
    obj: &Value,
    include: &IncludeObject,
    meta_api_version: &str,
) -> Value {
    // The bookmark ending a watch-list's initial events always travels as metadata so the
    // client sees its annotation (handlers/response.go asTable).
    let initial_events_end =
        obj["metadata"]["annotations"]["k8s.io/initial-events-end"].as_str() == Some("true");
    match include {
        IncludeObject::Object if !initial_events_end => {
            let mut full = obj.clone();
            if let Some(map) = full.as_object_mut() {
                map.entry("apiVersion")
                    .or_insert_with(|| rt.api_version().into());
                map.entry("kind").or_insert_with(|| rt.kind.clone().into());
            }
            full
        }
        IncludeObject::None if !initial_events_end => Value::Null,
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": meta_api_version,
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
    }
}

/// The table's `metadata`: the list's resourceVersion, continue and remainingItemCount.
fn table_metadata(list_meta: Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(map) = list_meta {
        for (key, value) in map {
            let keep = match key.as_str() {
                "resourceVersion" | "continue" => value.as_str().is_some_and(|s| !s.is_empty()),
                "remainingItemCount" => value.is_number(),
                _ => false,
            };
            if keep {
                out.insert(key, value);
            }
        }
    }
    Value::Object(out)
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// A `metav1.Time` / `metav1.MicroTime` field; `None` when unset (the zero time) or unparsable.
fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    // The zero time (0001-01-01T00:00:00Z) is how Go spells "unset".
    (t.timestamp() != ZERO_TIME_UNIX).then_some(t)
}

/// Unix seconds of Go's zero `time.Time`.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// The `Age` column of the printers: a string, unlike the CRD convertor's `date`.
fn age_column() -> ColumnDef {
    ColumnDef::new("Age", "string", CREATION_TIMESTAMP_DOC)
}

/// `translateTimestampSince` of the printers: the age of a timestamp, `<unknown>` if unset.
fn age_since(v: &Value, now: DateTime<Utc>) -> String {
    match parse_time(v) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource_types::{builtin_types, type_from_crd};
    use chrono::{Duration, TimeZone};

    pub(super) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    pub(super) fn builtin(group: &str, kind: &str) -> ResourceType {
        builtin_types()
            .into_iter()
            .find(|t| t.group == group && t.kind == kind)
            .unwrap()
    }

    fn crd_type() -> ResourceType {
        type_from_crd(&json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Namespaced",
                "versions": [{"name": "v1", "served": true, "storage": true}]
            }
        }))
        .unwrap()
    }

    fn widget() -> Value {
        json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {
                "name": "w1",
                "namespace": "default",
                "labels": {"app": "x"},
                "creationTimestamp": "2024-05-01T11:55:00Z"
            },
            "spec": {"size": 3}
        })
    }

    #[test]
    fn human_duration_matches_apimachinery() {
        let cases = [
            (Duration::seconds(-2), "<invalid>"),
            (Duration::milliseconds(-1500), "0s"),
            (Duration::seconds(0), "0s"),
            (Duration::seconds(59), "59s"),
            (Duration::seconds(119), "119s"),
            (Duration::seconds(120), "2m"),
            (Duration::seconds(184), "3m4s"),
            (Duration::minutes(10), "10m"),
            (Duration::minutes(179), "179m"),
            (Duration::minutes(180), "3h"),
            (Duration::minutes(185), "3h5m"),
            (Duration::hours(8), "8h"),
            (Duration::hours(47), "47h"),
            (Duration::hours(48), "2d"),
            (Duration::hours(51), "2d3h"),
            (Duration::hours(24 * 8), "8d"),
            (Duration::days(729), "729d"),
            (Duration::days(730), "2y"),
            (Duration::days(775), "2y45d"),
            (Duration::days(365 * 8), "8y"),
            (Duration::days(365 * 10 + 100), "10y"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn include_object_parsing() {
        assert_eq!(parse_include_object(None), Ok(IncludeObject::Metadata));
        assert_eq!(parse_include_object(Some("")), Ok(IncludeObject::Metadata));
        assert_eq!(
            parse_include_object(Some("Metadata")),
            Ok(IncludeObject::Metadata)
        );
        assert_eq!(
            parse_include_object(Some("Object")),
            Ok(IncludeObject::Object)
        );
        assert_eq!(parse_include_object(Some("None")), Ok(IncludeObject::None));
        assert_eq!(
            parse_include_object(Some("object")),
            Err(
                "Unable to convert to Table as requested: includeObject: Invalid value: \
                 \"object\": must be 'Metadata', 'Object', 'None', or empty"
                    .to_string()
            )
        );
        assert_eq!(
            parse_include_object(Some("<x>")).unwrap_err(),
            "Unable to convert to Table as requested: includeObject: Invalid value: \
             \"\\u003cx\\u003e\": must be 'Metadata', 'Object', 'None', or empty"
        );
    }

    #[test]
    fn row_objects_follow_include_object() {
        let rt = crd_type();
        let objs = [widget()];
        let meta = to_table(
            &rt,
            &objs,
            &IncludeObject::Metadata,
            json!({}),
            false,
            now(),
        );
        assert_eq!(
            meta["rows"][0]["object"],
            json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": widget()["metadata"]
            })
        );
        let full = to_table(&rt, &objs, &IncludeObject::Object, json!({}), false, now());
        assert_eq!(full["rows"][0]["object"], widget());
        let none = to_table(&rt, &objs, &IncludeObject::None, json!({}), false, now());
        assert_eq!(none["rows"][0]["object"], Value::Null);
        assert_eq!(none["rows"][0]["cells"], json!(["w1", "5m"]));

        let beta = to_table_version(
            TableVersion::V1beta1,
            &rt,
            &objs,
            &IncludeObject::Metadata,
            json!({}),
            false,
            now(),
        );
        assert_eq!(beta["apiVersion"], "meta.k8s.io/v1beta1");
        assert_eq!(
            beta["rows"][0]["object"]["apiVersion"],
            "meta.k8s.io/v1beta1"
        );
    }

    #[test]
    fn object_without_type_meta_gets_it() {
        let rt = builtin("", "ConfigMap");
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        let t = to_table(&rt, &[cm], &IncludeObject::Object, json!({}), false, now());
        assert_eq!(t["rows"][0]["object"]["kind"], "ConfigMap");
        assert_eq!(t["rows"][0]["object"]["apiVersion"], "v1");
    }

    #[test]
    fn initial_events_end_bookmark_is_always_metadata() {
        let rt = crd_type();
        let bookmark = json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"resourceVersion": "7", "annotations": {"k8s.io/initial-events-end": "true"}}
        });
        let t = to_table(
            &rt,
            &[bookmark],
            &IncludeObject::None,
            json!({}),
            true,
            now(),
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn table_metadata_and_headers() {
        let rt = crd_type();
        let t = to_table(
            &rt,
            &[widget()],
            &IncludeObject::Metadata,
            json!({"resourceVersion": "42", "continue": "", "remainingItemCount": 3, "selfLink": "x"}),
            false,
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(
            t["metadata"],
            json!({"resourceVersion": "42", "remainingItemCount": 3})
        );
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][0]["description"], NAME_DOC);

        let quiet = to_table(
            &rt,
            &[widget()],
            &IncludeObject::Metadata,
            json!({"resourceVersion": "43"}),
            true,
            now(),
        );
        assert_eq!(quiet["columnDefinitions"], Value::Null);
        assert_eq!(quiet["rows"][0]["cells"], json!(["w1", "5m"]));
    }

    #[test]
    fn default_convertor_for_kinds_without_printer() {
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            let rt = builtin(group, kind);
            let obj =
                json!({"metadata": {"name": "r", "creationTimestamp": "2024-01-02T03:04:05Z"}});
            let t = to_table(&rt, &[obj], &IncludeObject::None, json!({}), false, now());
            assert_eq!(
                t["columnDefinitions"],
                json!([
                    {"name": "Name", "type": "string", "format": "name", "description": NAME_DOC, "priority": 0},
                    {"name": "Created At", "type": "date", "format": "", "description": CREATION_TIMESTAMP_DOC, "priority": 0}
                ]),
                "{kind}"
            );
            assert_eq!(t["rows"][0]["cells"], json!(["r", "2024-01-02T03:04:05Z"]));
            let empty = to_table(&rt, &[], &IncludeObject::None, json!({}), false, now());
            assert_eq!(empty["rows"], Value::Null);
        }
        let rt = builtin("", "ConfigMap");
        let empty = to_table(&rt, &[], &IncludeObject::None, json!({}), false, now());
        assert_eq!(empty["rows"], json!([]));
    }

    #[test]
    fn default_convertor_unset_creation_time() {
        let rt = builtin("rbac.authorization.k8s.io", "Role");
        let t = to_table(
            &rt,
            &[json!({"metadata": {"name": "r"}})],
            &IncludeObject::None,
            json!({}),
            false,
            now(),
        );
        assert_eq!(t["rows"][0]["cells"], json!(["r", "0001-01-01T00:00:00Z"]));
    }
}

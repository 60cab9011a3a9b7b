//! Field selectors (`fieldSelector`): the grammar of k8s.io/apimachinery/pkg/fields, the field
//! labels each built-in kind's field label conversion accepts (with its own error wording),
//! and the values each kind's registry exposes for them (`ToSelectableFields`).

use std::fmt;

use crate::gofmt;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    DoubleEquals,
    NotEquals,
}

/// One `field=value` (or `==`, `!=`) term, with the value unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A parsed field selector: terms ANDed together; empty selects everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter (`fields.ParseSelector`): terms split on
    /// unescaped commas, `\,`, `\=` and `\\` escapes in values. The error is the message of
    /// kube-apiserver's 400.
    pub fn parse(selector: &str) -> Result<Self, String> {
        let mut parts = split_terms(selector);
        // Go sorts the raw terms, which decides which bad term is reported first.
        parts.sort_unstable();
        let mut terms = Vec::with_capacity(parts.len());
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, operator, raw)) = split_term(part) else {
                return Err(format!(
                    "invalid selector: '{selector}'; can't understand '{part}'"
                ));
            };
            terms.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value: unescape_value(raw)?,
            });
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Checks each field label against the kind's field label conversion, in the order
    /// kube-apiserver does, and returns its error for the first unsupported one. Custom
    /// resources support `metadata.name` and `metadata.namespace` (see
    /// [`Self::check_supported_custom`] for cluster-scoped ones and `selectableFields`).
    pub fn check_supported(&self, group: &str, kind: &str, is_custom: bool) -> Result<(), String> {
        if is_custom {
            return self.check_supported_custom(true, &[]);
        }
        let conv = conversion(group, kind);
        for t in &self.terms {
            if conv.map_label(&t.field).is_none() {
                return Err(conv.error(&t.field));
            }
        }
        Ok(())
    }

    /// The check for a custom resource: `metadata.name`, `metadata.namespace` when the
    /// resource is namespaced, and the CRD version's `selectableFields` (given as field paths
    /// without the leading dot, e.g. `spec.color`).
    pub fn check_supported_custom(
        &self,
        namespaced: bool,
        selectable_fields: &[&str],
    ) -> Result<(), String> {
        for t in &self.terms {
            let ok = t.field == "metadata.name"
                || (namespaced && t.field == "metadata.namespace")
                || selectable_fields.contains(&t.field.as_str());
            if !ok {
                return Err(format!("field label not supported: {}", t.field));
            }
        }
        Ok(())
    }

    /// Whether the object is selected. A field the object lacks reads as the empty string,
    /// as in Go's `fields.Set`. Fields outside the kind's own set (custom resources'
    /// selectable fields) are read from the object by path.
    pub fn matches(&self, obj: &Value, group: &str, kind: &str) -> bool {
        let conv = conversion(group, kind);
        self.terms.iter().all(|t| {
            let field = conv.map_label(&t.field).unwrap_or(&t.field);
            let actual = field_value(obj, group, kind, field);
            match t.operator {
                FieldOperator::Equals | FieldOperator::DoubleEquals => actual == t.value,
                FieldOperator::NotEquals => actual != t.value,
            }
        })
    }
}

/// Go's `String()`: `field=value` terms (values escaped), joined by commas.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.operator == FieldOperator::NotEquals {
                "!="
            } else {
                "="
            };
            let value = t
                .value
                .replace('\\', "\\\\")
                .replace(',', "\\,")
                .replace('=', "\\=");
            write!(f, "{}{op}{value}", t.field)?;
        }
        Ok(())
    }
}

/// `splitTerms`: splits on commas not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// `splitTerm`: the first operator in the term, preferring `!=` and `==` over `=`.
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    const OPS: [(&str, FieldOperator); 3] = [
        ("!=", FieldOperator::NotEquals),
        ("==", FieldOperator::DoubleEquals),
        ("=", FieldOperator::Equals),
    ];
    term.char_indices().find_map(|(i, _)| {
        let rest = &term[i..];
        OPS.iter()
            .find(|(op, _)| rest.starts_with(op))
            .map(|(op, kind)| (&term[..i], *kind, &rest[op.len()..]))
    })
}

/// `UnescapeValue`.
fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                other => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    ));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v, i.e. as a number.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            other => out.push(other),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// How a kind's field label conversion words a label it does not support.
#[derive(Clone, Copy)]
enum Refusal {
    /// `field label not supported: X`, most kinds with their own conversion.
    NotSupported,
    /// batch/v1 Job's own wording.
    Job,
    /// resource.k8s.io ResourceSlice's.
    ResourceSlice,
    /// `runtime.DefaultMetaV1FieldSelectorConversion`, for kinds without a conversion.
    Default,
}

/// A kind's field label conversion: the labels it accepts, each with the name the
/// registry's field set uses for it.
#[derive(Clone, Copy)]
struct Conversion {
    labels: &'static [(&'static str, &'static str)],
    refusal: Refusal,
}

impl Conversion {
    fn map_label(&self, label: &str) -> Option<&'static str> {
        self.labels
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, internal)| *internal)
    }

    fn error(&self, label: &str) -> String {
        match self.refusal {
            Refusal::NotSupported => format!("field label not supported: {label}"),
            Refusal::Job => format!(
                "field label {} not supported for batchv1.Job",
                gofmt::quote(label)
            ),
            Refusal::ResourceSlice => format!(
                "field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: {label}"
            ),
            Refusal::Default => format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                gofmt::quote(label)
            ),
        }
    }
}

const NAME: (&str, &str) = ("metadata.name", "metadata.name");
const NAMESPACE: (&str, &str) = ("metadata.namespace", "metadata.namespace");

const fn same(label: &'static str) -> (&'static str, &'static str) {
    (label, label)
}

static POD: &[(&str, &str)] = &[
    NAME,
    NAMESPACE,
    same("spec.nodeName"),
    same("spec.restartPolicy"),
    same("spec.schedulerName"),
    same("spec.serviceAccountName"),
    same("spec.hostNetwork"),
    same("status.phase"),
    same("status.podIP"),
    same("status.podIPs"),
    same("status.nominatedNodeName"),
    // Old v1 clients' name for spec.nodeName.
    ("spec.host", "spec.nodeName"),
];
static NODE: &[(&str, &str)] = &[NAME, same("spec.unschedulable")];
static REPLICATION_CONTROLLER: &[(&str, &str)] = &[NAME, NAMESPACE, same("status.replicas")];
static CORE_EVENT: &[(&str, &str)] = &[
    same("involvedObject.kind"),
    same("involvedObject.namespace"),
    same("involvedObject.name"),
    same("involvedObject.uid"),
    same("involvedObject.apiVersion"),
    same("involvedObject.resourceVersion"),
    same("involvedObject.fieldPath"),
    same("reason"),
    same("reportingComponent"),
    same("source"),
    same("type"),
    NAMESPACE,
    NAME,
];
/// events.k8s.io names mapped to the core Event field set the registry shares.
static EVENTS_EVENT: &[(&str, &str)] = &[
    same("reason"),
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    same("source"),
    same("type"),
    NAMESPACE,
    NAME,
];
static NAMESPACE_KIND: &[(&str, &str)] = &[same("status.phase"), NAME];
static SECRET: &[(&str, &str)] = &[same("type"), NAMESPACE, NAME];
static SERVICE: &[(&str, &str)] = &[NAMESPACE, NAME, same("spec.clusterIP"), same("spec.type")];
static JOB: &[(&str, &str)] = &[NAME, NAMESPACE, same("status.successful")];
static SIGNER: &[(&str, &str)] = &[NAME, same("spec.signerName")];
static POD_CERTIFICATE_REQUEST: &[(&str, &str)] = &[
    NAME,
    same("spec.signerName"),
    same("spec.podName"),
    same("spec.nodeName"),
];
static RESOURCE_SLICE: &[(&str, &str)] = &[NAME, same("spec.nodeName"), same("spec.driver")];
static DEFAULT: &[(&str, &str)] = &[NAME, NAMESPACE];

fn conversion(group: &str, kind: &str) -> Conversion {
    let (labels, refusal) = match (group, kind) {
        ("", "Pod") => (POD, Refusal::NotSupported),
        ("", "Node") => (NODE, Refusal::NotSupported),
        ("", "ReplicationController") => (REPLICATION_CONTROLLER, Refusal::NotSupported),
        ("", "Event") => (CORE_EVENT, Refusal::NotSupported),
        ("", "Namespace") => (NAMESPACE_KIND, Refusal::NotSupported),
        ("", "Secret") => (SECRET, Refusal::NotSupported),
        ("", "Service") => (SERVICE, Refusal::NotSupported),
        ("batch", "Job") => (JOB, Refusal::Job),
        ("certificates.k8s.io", "CertificateSigningRequest" | "ClusterTrustBundle") => {
            (SIGNER, Refusal::NotSupported)
        }
        ("certificates.k8s.io", "PodCertificateRequest") => {
            (POD_CERTIFICATE_REQUEST, Refusal::NotSupported)
        }
        ("events.k8s.io", "Event") => (EVENTS_EVENT, Refusal::NotSupported),
        ("resource.k8s.io", "ResourceSlice") => (RESOURCE_SLICE, Refusal::ResourceSlice),
        _ => (DEFAULT, Refusal::Default),
    };
    Conversion { labels, refusal }
}

fn at<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(obj, |v, seg| v.get(seg))
}

/// A field's value as the registry's field set holds it: strings as they are, numbers and
/// booleans in Go's `strconv` form, missing as "".
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn text_or(v: Option<&Value>, default: &str) -> String {
    match v {
        None | Some(Value::Null) => default.to_string(),
        some => text(some),
    }
}

/// The value of `field` (already mapped to the registry's name) for an object of this kind.
fn field_value(obj: &Value, group: &str, kind: &str, field: &str) -> String {
    match (group, kind, field) {
        ("", "Pod", "spec.hostNetwork") => text_or(at(obj, field), "false"),
        // The registry reads the first of status.podIPs (the internal type has no podIP).
        ("", "Pod", "status.podIP") => text(
            at(obj, "status.podIPs")
                .and_then(|ips| ips.get(0))
                .and_then(|ip| ip.get("ip"))
                .or_else(|| at(obj, "status.podIP")),
        ),
        // Accepted by the conversion but absent from the pod's field set.
        ("", "Pod", "status.podIPs") => String::new(),
        ("", "Node", "spec.unschedulable") => text_or(at(obj, field), "false"),
        ("", "ReplicationController", "status.replicas") => text_or(at(obj, field), "0"),
        ("batch", "Job", "status.successful") => text_or(at(obj, "status.succeeded"), "0"),
        // Events of both groups are stored in their core form and share the core registry's
        // field set (pkg/registry/core/event/strategy.go `ToSelectableFields`), which the
        // events.k8s.io labels were mapped onto above.
        ("" | "events.k8s.io", "Event", "source") => {
            let component = text(at(obj, "source.component"));
            if component.is_empty() {
                text(at(obj, "reportingComponent"))
            } else {
                component
            }
        }
        _ => text(at(obj, field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(s: &str) -> FieldSelector {
        FieldSelector::parse(s).unwrap()
    }

    #[test]
    fn operators_and_conjunction() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "prod"},
            "spec": {"nodeName": "node-a", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        assert!(sel("metadata.name=web-1").matches(&pod, "", "Pod"));
        assert!(sel("metadata.name==web-1").matches(&pod, "", "Pod"));
        assert!(!sel("metadata.name!=web-1").matches(&pod, "", "Pod"));
        assert!(sel("spec.nodeName=node-a,status.phase!=Pending").matches(&pod, "", "Pod"));
        assert!(!sel("spec.nodeName=node-a,status.phase=Pending").matches(&pod, "", "Pod"));
        assert!(sel("status.podIP=10.0.0.5").matches(&pod, "", "Pod"));
        assert!(sel("spec.hostNetwork=false").matches(&pod, "", "Pod"));
        assert!(sel("spec.host=node-a").matches(&pod, "", "Pod"));
        // A missing field is the empty string.
        assert!(sel("status.nominatedNodeName=").matches(&pod, "", "Pod"));
        assert!(sel("").matches(&pod, "", "Pod") && sel("").is_empty());
    }

    #[test]
    fn escaping() {
        let s = sel(r"metadata.name=a\,b\=c\\d");
        assert_eq!(s.terms[0].value, r"a,b=c\d");
        assert_eq!(s.to_string(), r"metadata.name=a\,b\=c\\d");
        assert_eq!(
            FieldSelector::parse(r"a=b\x").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            FieldSelector::parse("a=b,nonsense").unwrap_err(),
            "invalid selector: 'a=b,nonsense'; can't understand 'nonsense'"
        );
        // `!=` wins over the `=` inside it; the value may contain `!`.
        let s = sel("a!=b");
        assert_eq!(
            (s.terms[0].operator, s.terms[0].value.as_str()),
            (FieldOperator::NotEquals, "b")
        );
        assert_eq!(sel("a=!b").terms[0].value, "!b");
    }

    #[test]
    fn supported_fields_per_kind() {
        assert!(
            sel("spec.nodeName=x,status.phase=Running")
                .check_supported("", "Pod", false)
                .is_ok()
        );
        assert_eq!(
            sel("spec.foo=x")
                .check_supported("", "Pod", false)
                .unwrap_err(),
            "field label not supported: spec.foo"
        );
        assert!(
            sel("type=Opaque")
                .check_supported("", "Secret", false)
                .is_ok()
        );
        assert!(
            sel("status.phase=Active")
                .check_supported("", "Namespace", false)
                .is_ok()
        );
        assert_eq!(
            sel("metadata.namespace=x")
                .check_supported("", "Node", false)
                .unwrap_err(),
            "field label not supported: metadata.namespace"
        );
        assert!(
            sel("spec.unschedulable=true")
                .check_supported("", "Node", false)
                .is_ok()
        );
        assert!(
            sel("involvedObject.name=x,reason=Started,source=kubelet,type=Normal")
                .check_supported("", "Event", false)
                .is_ok()
        );
        assert_eq!(
            sel("status.active=1")
                .check_supported("batch", "Job", false)
                .unwrap_err(),
            "field label \"status.active\" not supported for batchv1.Job"
        );
        assert_eq!(
            sel("status.replicas=1")
                .check_supported("apps", "ReplicaSet", false)
                .unwrap_err(),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \
             \"metadata.namespace\""
        );
        assert!(
            sel("metadata.name=a")
                .check_supported("apps", "Deployment", false)
                .is_ok()
        );
        assert_eq!(
            sel("spec.size=1")
                .check_supported("example.com", "Widget", true)
                .unwrap_err(),
            "field label not supported: spec.size"
        );
        assert!(
            sel("metadata.namespace=a")
                .check_supported("example.com", "Widget", true)
                .is_ok()
        );
        assert!(
            sel("metadata.namespace=a")
                .check_supported_custom(false, &[])
                .is_err()
        );
        assert!(
            sel("spec.color=red")
                .check_supported_custom(true, &["spec.color"])
                .is_ok()
        );
        // The first bad term in sorted order is the one reported.
        assert_eq!(
            sel("zz=1,aa=2")
                .check_supported("", "Secret", false)
                .unwrap_err(),
            "field label not supported: aa"
        );
    }

    #[test]
    fn kind_specific_values() {
        let node = json!({"metadata": {"name": "n"}, "spec": {}});
        assert!(sel("spec.unschedulable=false").matches(&node, "", "Node"));
        let job = json!({"metadata": {"name": "j"}, "status": {"succeeded": 2}});
        assert!(sel("status.successful=2").matches(&job, "batch", "Job"));
        assert!(sel("status.successful=0").matches(&json!({}), "batch", "Job"));

        let core = json!({
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet"
        });
        assert!(sel("involvedObject.kind=Pod,involvedObject.name=p").matches(&core, "", "Event"));
        // `source` falls back to the reporting component.
        assert!(sel("source=kubelet").matches(&core, "", "Event"));

        // events.k8s.io events are matched in their stored (core) form.
        let ev = json!({
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "ns"},
            "reason": "Started", "reportingComponent": "ctl", "source": {}
        });
        assert!(sel("regarding.kind=Pod,regarding.namespace=ns").matches(
            &ev,
            "events.k8s.io",
            "Event"
        ));
        assert!(!sel("regarding.name=q").matches(&ev, "events.k8s.io", "Event"));
        assert!(sel("regarding.name=p,reportingController=ctl").matches(
            &ev,
            "events.k8s.io",
            "Event"
        ));
        assert!(sel("source=ctl").matches(&ev, "events.k8s.io", "Event"));

        let cr = json!({"metadata": {"name": "w"}, "spec": {"color": "red", "size": 3}});
        assert!(sel("spec.color=red,spec.size=3").matches(&cr, "example.com", "Widget"));
    }
}

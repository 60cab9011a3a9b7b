//! Accept-header negotiation of a Table response, as kube-apiserver's
//! `endpoints/handlers/negotiation` does it with `goautoneg`.
//!
//! Clauses are sorted by `q` (then concrete types before wildcards) and tried in order; the
//! first clause the server can answer decides. A clause with `as=Table;g=meta.k8s.io;v=v1`
//! (or `v1beta1`) asks for a Table; one without `as` asks for the plain object; a clause asking
//! for a conversion the endpoint cannot do is skipped.

/// The Table version a request negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1beta1,
}

impl TableVersion {
    /// `apiVersion` of the Table (and of the rows' `PartialObjectMetadata`).
    pub fn api_version(self) -> &'static str {
        match self {
            TableVersion::V1 => "meta.k8s.io/v1",
            TableVersion::V1beta1 => "meta.k8s.io/v1beta1",
        }
    }

    /// The media type naming this Table, e.g. `application/json;as=Table;v=v1;g=meta.k8s.io`.
    pub fn media_type(self) -> &'static str {
        match self {
            TableVersion::V1 => "application/json;as=Table;v=v1;g=meta.k8s.io",
            TableVersion::V1beta1 => "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
        }
    }
}

/// Some(content type naming the negotiated Table) when the Accept header asks for a Table
/// ahead of anything else the sandbox can serve; None otherwise.
///
/// The string says which Table version was chosen. kube-apiserver itself answers a Table
/// with a plain `Content-Type: application/json` (`transformResponseObject` writes without
/// the GVK parameters); clients decode by the body's `apiVersion`/`kind`, so either works.
pub fn table_content_type(accept: Option<&str>) -> Option<String> {
    negotiate_table(accept).map(|v| v.media_type().to_string())
}

/// The Table version the Accept header negotiates, or None when the answer is not a Table.
///
/// The sandbox serves JSON only, so clauses for YAML or protobuf are skipped as a server
/// without those serializers would.
pub fn negotiate_table(accept: Option<&str>) -> Option<TableVersion> {
    let header = accept.unwrap_or_default();
    if header.is_empty() {
        return None;
    }
    for clause in parse_accept(header) {
        let type_matches = (clause.type_ == "application"
            && (clause.subtype == "json" || clause.subtype == "*"))
            || (clause.type_ == "*" && clause.subtype == "*");
        if !type_matches {
            continue;
        }
        match clause_target(&clause) {
            Target::Plain => return None,
            Target::Table(version) => return Some(version),
            Target::Unsupported => continue,
        }
    }
    None
}

enum Target {
    Plain,
    Table(TableVersion),
    Unsupported,
}

/// What a clause matching `application/json` asks for (`acceptMediaTypeOptions` plus the
/// resource endpoint's `AllowsMediaTypeTransform`).
fn clause_target(clause: &Clause) -> Target {
    let (mut kind, mut group, mut version, mut convert) = ("", "", "", false);
    for (key, value) in &clause.params {
        match key.as_str() {
            "as" => (kind, convert) = (value, true),
            "g" => (group, convert) = (value, true),
            "v" => (version, convert) = (value, true),
            // Only `watch` streams exist; JSON has a stream serializer.
            "stream" if !value.is_empty() && value != "watch" => return Target::Unsupported,
            // The server-version option must name the meta group version.
            "sv" if !value.is_empty() && value != "v1" => return Target::Unsupported,
            _ => {}
        }
    }
    if !convert {
        return Target::Plain;
    }
    match (group, version, kind) {
        ("meta.k8s.io", "v1", "Table") => Target::Table(TableVersion::V1),
        ("meta.k8s.io", "v1beta1", "Table") => Target::Table(TableVersion::V1beta1),
        // PartialObjectMetadata(List) and anything else are not Tables.
        (
            "meta.k8s.io",
            "v1" | "v1beta1",
            "PartialObjectMetadata" | "PartialObjectMetadataList",
        ) => Target::Plain,
        _ => Target::Unsupported,
    }
}

#[derive(Debug, PartialEq)]
struct Clause {
    type_: String,
    subtype: String,
    q: f64,
    params: Vec<(String, String)>,
}

/// `goautoneg.ParseAccept`: split on commas, keep clauses of the form `type/subtype` (or a
/// bare `*`), read `q`, and sort. Its quirks are kept: only spaces are trimmed, a parameter
/// needs a non-empty value, and an unparsable `q` counts as 0.
fn parse_accept(header: &str) -> Vec<Clause> {
    let trim = |s: &str| s.trim_matches(' ').to_string();
    let mut clauses = Vec::new();
    let mut remaining = header;
    while !remaining.is_empty() {
        let part;
        (part, remaining) = next_split(remaining, ',');
        let (media, mut params) = next_split(part.trim_matches(' '), ';');
        let (type_, rest) = next_split(media, '/');
        let (type_, subtype) = if rest.is_empty() {
            if trim(type_) != "*" {
                continue;
            }
            ("*".to_string(), "*".to_string())
        } else {
            let (subtype, extra) = next_split(rest, '/');
            if !extra.is_empty() {
                continue;
            }
            (trim(type_), trim(subtype))
        };
        let mut clause = Clause {
            type_,
            subtype,
            q: 1.0,
            params: Vec::new(),
        };
        while !params.is_empty() {
            let param;
            (param, params) = next_split(params, ';');
            let (key, rest) = next_split(param, '=');
            if rest.is_empty() {
                continue;
            }
            let (value, extra) = next_split(rest, '=');
            if !extra.is_empty() {
                continue;
            }
            if trim(key) == "q" {
                clause.q = value.parse::<f32>().map(f64::from).unwrap_or(0.0);
            } else {
                clause.params.push((trim(key), trim(value)));
            }
        }
        clauses.push(clause);
    }
    sort_clauses(&mut clauses);
    clauses
}

/// goautoneg's `nextSplitElement`: the text before the first `sep` and the text after it.
fn next_split(s: &str, sep: char) -> (&str, &str) {
    s.split_once(sep).unwrap_or((s, ""))
}

/// goautoneg's `sort.Sort`: for the few clauses a header has, Go runs an insertion sort with
/// this (not quite consistent) ordering, so the same insertion sort gives the same order.
fn sort_clauses(clauses: &mut [Clause]) {
    let less = |a: &Clause, b: &Clause| {
        a.q > b.q || (a.type_ != "*" && b.type_ == "*") || (a.subtype != "*" && b.subtype == "*")
    };
    for i in 1..clauses.len() {
        let mut j = i;
        while j > 0 && less(&clauses[j], &clauses[j - 1]) {
            clauses.swap(j, j - 1);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    #[test]
    fn kubectl_get_negotiates_v1_table() {
        assert_eq!(negotiate_table(Some(KUBECTL)), Some(TableVersion::V1));
        assert_eq!(
            table_content_type(Some(KUBECTL)).as_deref(),
            Some("application/json;as=Table;v=v1;g=meta.k8s.io")
        );
    }

    #[test]
    fn honours_order_and_quality() {
        let beta_first = "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io";
        assert_eq!(
            negotiate_table(Some(beta_first)),
            Some(TableVersion::V1beta1)
        );
        assert_eq!(
            table_content_type(Some(beta_first)).as_deref(),
            Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io")
        );
        assert_eq!(
            negotiate_table(Some(
                "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
            )),
            None
        );
        assert_eq!(
            negotiate_table(Some(
                "application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io"
            )),
            Some(TableVersion::V1)
        );
        assert_eq!(
            negotiate_table(Some(
                "application/json;as=Table;v=v1;g=meta.k8s.io;q=0.1, application/json"
            )),
            None
        );
    }

    #[test]
    fn plain_or_missing_accept_is_not_a_table() {
        assert_eq!(negotiate_table(None), None);
        assert_eq!(negotiate_table(Some("")), None);
        assert_eq!(negotiate_table(Some("application/json")), None);
        assert_eq!(negotiate_table(Some("*/*")), None);
        assert_eq!(
            negotiate_table(Some(
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
            )),
            None
        );
    }

    #[test]
    fn skips_clauses_it_cannot_serve() {
        // Unknown group/version of Table, and YAML/protobuf (not served here), fall through.
        let accept = "application/json;as=Table;v=v2;g=meta.k8s.io,application/yaml;as=Table;v=v1;g=meta.k8s.io,application/vnd.kubernetes.protobuf,application/json;as=Table;v=v1beta1;g=meta.k8s.io";
        assert_eq!(negotiate_table(Some(accept)), Some(TableVersion::V1beta1));
        assert_eq!(
            negotiate_table(Some("application/json;as=Table;v=v1")),
            None
        );
        assert_eq!(
            negotiate_table(Some("*/*;as=Table;v=v1;g=meta.k8s.io")),
            Some(TableVersion::V1)
        );
        assert_eq!(
            negotiate_table(Some("application/*;as=Table;g=meta.k8s.io;v=v1")),
            Some(TableVersion::V1)
        );
    }

    #[test]
    fn wildcards_sort_after_concrete_types() {
        let clauses = parse_accept("*/*, application/json;as=Table;v=v1;g=meta.k8s.io");
        assert_eq!(clauses[0].subtype, "json");
        assert_eq!(
            negotiate_table(Some("*/*, application/json;as=Table;v=v1;g=meta.k8s.io")),
            Some(TableVersion::V1)
        );
    }

    #[test]
    fn parses_like_goautoneg() {
        let clauses = parse_accept(
            "text/plain; q=0.5 ,bad, a/b/c, application/, *, application/json;x;k=;q=oops",
        );
        assert_eq!(
            clauses,
            vec![
                Clause {
                    type_: "*".into(),
                    subtype: "*".into(),
                    q: 1.0,
                    params: vec![]
                },
                Clause {
                    type_: "text".into(),
                    subtype: "plain".into(),
                    q: 0.5,
                    params: vec![]
                },
                Clause {
                    type_: "application".into(),
                    subtype: "json".into(),
                    q: 0.0,
                    params: vec![]
                },
            ]
        );
    }
}

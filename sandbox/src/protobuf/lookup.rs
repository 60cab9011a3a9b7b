//! Lookups into the generated message tables of `types.rs`: a message by index, and the
//! message of a registered kind.

use super::schema::Message;
use super::types::{KINDS, MESSAGES};

/// The message at `index` of the generated table.
pub(super) fn message(index: usize) -> &'static Message {
    &MESSAGES[index]
}

/// Kinds `metav1.AddToGroupVersion` registers in every group/version.
const COMMON_KINDS: &[&str] = &[
    "WatchEvent",
    "ListOptions",
    "GetOptions",
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
];

/// The message of a kind as the scheme of kube-apiserver knows it, if registered.
pub(super) fn kind_message(group: &str, version: &str, kind: &str) -> Option<usize> {
    let find = |g: &str, v: &str, k: &str| {
        KINDS
            .binary_search_by(|(kg, kv, kk, _)| (*kg, *kv, *kk).cmp(&(g, v, k)))
            .ok()
            .map(|i| KINDS[i].3)
    };
    find(group, version, kind).or_else(|| {
        let known_version = KINDS
            .iter()
            .any(|(g, v, _, _)| *g == group && *v == version);
        if known_version && COMMON_KINDS.contains(&kind) {
            find("meta.k8s.io", "v1", kind)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::schema::{Kind, Label};
    use super::*;

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
        assert!(
            KINDS
                .windows(2)
                .all(|w| (w[0].0, w[0].1, w[0].2) < (w[1].0, w[1].1, w[1].2))
        );
        for msg in MESSAGES {
            for fld in msg.fields {
                if let Kind::Msg(i) = fld.kind {
                    assert!(i < MESSAGES.len(), "{}.{}", msg.name, fld.json);
                }
                if let Label::Map(Kind::Msg(i)) = fld.label {
                    assert!(i < MESSAGES.len(), "{}.{}", msg.name, fld.json);
                }
            }
        }
    }

    #[test]
    fn finds_registered_and_common_kinds() {
        let pod = kind_message("", "v1", "Pod").map(|i| message(i).name);
        assert_eq!(pod, Some("k8s.io.api.core.v1.Pod"));
        let lease = kind_message("coordination.k8s.io", "v1", "Lease").map(|i| message(i).name);
        assert_eq!(lease, Some("k8s.io.api.coordination.v1.Lease"));
        let del = kind_message("apps", "v1", "DeleteOptions").map(|i| message(i).name);
        assert_eq!(
            del,
            Some("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        );
        assert_eq!(kind_message("", "v1", "ObjectMeta"), None);
        assert_eq!(kind_message("apps", "v2", "DeleteOptions"), None);
        assert_eq!(kind_message("example.com", "v1", "Widget"), None);
    }
}

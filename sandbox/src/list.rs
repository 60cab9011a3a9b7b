//! Paginated lists (`limit` / `continue`) as an etcd-backed kube-apiserver serves them.
//!
//! A continue token is kube-apiserver's own (k8s: apiserver/pkg/storage/continue.go): base64 of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the last item>"}`. Later pages are read at
//! the first page's resourceVersion, from the store's history (etcd's MVCC), so every page carries
//! the same resourceVersion and is consistent with the first. When that version has left the
//! history (etcd: compacted) the answer is 410 Expired with the apiserver's message and a token
//! that continues at the latest version (k8s: storage/etcd3/errors.go). `remainingItemCount` is
//! reported only for lists without selectors, as by `storage.PrepareContinueToken`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::errors::{ApiResult, bad_request, expired};
use crate::store::{Obj, StorageKey, Store, meta_str};

/// How long a page's collection is kept ready for the next page (the history still answers
/// after that; this only saves rebuilding it for every page).
const CACHE_TTL: Duration = Duration::from_secs(60);
const MAX_CACHED: usize = 64;

pub const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// Collections recently read at a past resourceVersion, for the pages after the first.
#[derive(Default)]
pub struct Snapshots {
    cached: Mutex<HashMap<SnapshotId, Cached>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SnapshotId {
    key: StorageKey,
    namespace: Option<String>,
    rv: u64,
}

struct Cached {
    items: Arc<Vec<Obj>>,
    used: Instant,
}

/// What one list request asks for.
pub struct ListRequest<'a> {
    pub key: &'a StorageKey,
    /// The namespace of a namespaced list; `None` for all namespaces or cluster-scoped kinds.
    pub namespace: Option<&'a str>,
    pub limit: Option<i64>,
    pub continue_token: Option<&'a str>,
    pub resource_version: Option<&'a str>,
    /// A label or field selector is set: the count of remaining items is then unknown.
    pub selective: bool,
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Obj>,
    pub rv: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<i64>,
}

/// The etcd key of an object below the list's key prefix: `name` in a namespace (and for
/// cluster-scoped kinds), `namespace/name` across namespaces.
fn relative_key(obj: &Value, namespaced_list: bool) -> String {
    let ns = meta_str(obj, "namespace");
    let name = meta_str(obj, "name");
    if namespaced_list || ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

fn encode_token(start: &str, rv: i64) -> String {
    let raw = json!({"v": TOKEN_VERSION, "rv": rv, "start": start}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// `storage.DecodeContinue`: the start key and resourceVersion, or the reason the token is not
/// valid (kube-apiserver wraps it as `invalid continue token: ...`).
fn decode_token(token: &str) -> Result<(String, i64), String> {
    const INVALID: &str = "continue key is not valid";
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|e| {
            use base64::DecodeError::*;
            let at = match e {
                InvalidByte(at, _) | InvalidLastSymbol(at, _) => at,
                InvalidLength(len) => len,
                InvalidPadding => token.len(),
            };
            format!("{INVALID}: illegal base64 data at input byte {at}")
        })?;
    let v: Value = serde_json::from_slice(&raw).map_err(|e| format!("{INVALID}: {e}"))?;
    let version = v["v"].as_str().unwrap_or_default();
    if version != TOKEN_VERSION {
        return Err(format!(
            "{INVALID}: server does not recognize this encoded version {version}"
        ));
    }
    let rv = v["rv"].as_i64().unwrap_or(0);
    if rv == 0 {
        return Err(format!(
            "{INVALID}: incorrect encoded start resourceVersion (version {TOKEN_VERSION})"
        ));
    }
    let start = v["start"].as_str().unwrap_or_default();
    if start.is_empty() {
        return Err(format!(
            "{INVALID}: encoded start key empty (version {TOKEN_VERSION})"
        ));
    }
    // path.Clean must leave the key as it is: no traversal out of the list's prefix.
    let segments: Vec<&str> = start.trim_start_matches('/').split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(format!("{INVALID}: {start}"));
    }
    Ok((start.trim_start_matches('/').to_string(), rv))
}

impl Snapshots {
    fn cached(&self, id: &SnapshotId) -> Option<Arc<Vec<Obj>>> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached.retain(|_, c| c.used.elapsed() < CACHE_TTL);
        let entry = cached.get_mut(id)?;
        entry.used = Instant::now();
        Some(entry.items.clone())
    }

    fn remember(&self, id: SnapshotId, items: Arc<Vec<Obj>>) {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if cached.len() >= MAX_CACHED
            && let Some(oldest) = cached
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
        {
            cached.remove(&oldest);
        }
        cached.insert(
            id,
            Cached {
                items,
                used: Instant::now(),
            },
        );
    }

    /// One page of the list `req` asks for, keeping the objects `matches` selects.
    pub fn page(
        &self,
        store: &Store,
        req: &ListRequest,
        matches: impl Fn(&Value) -> bool,
    ) -> ApiResult<Page> {
        let namespaced_list = req.namespace.is_some();
        let snapshot_id = |rv: u64| SnapshotId {
            key: req.key.clone(),
            namespace: req.namespace.map(String::from),
            rv,
        };
        let sorted = |mut items: Vec<Obj>| {
            // etcd returns keys in byte order; across namespaces `a-b/x` sorts before `a/x`.
            if !namespaced_list {
                items.sort_by_cached_key(|o| relative_key(o, false));
            }
            Arc::new(items)
        };
        let (items, rv, start) = match req.continue_token {
            Some(token) => {
                let (start, token_rv) = decode_token(token)
                    .map_err(|e| bad_request(format!("invalid continue token: {e}")))?;
                if req.resource_version.is_some_and(|v| v != "0") {
                    return Err(bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                if token_rv < 0 {
                    // A token from a 410: continue at the latest version.
                    let (items, rv) = store.list(req.key, req.namespace);
                    (sorted(items), rv, Some(start))
                } else {
                    let rv = token_rv as u64;
                    // The cache only saves rebuilding; compaction decides what can be read.
                    let cached = self.cached(&snapshot_id(rv)).filter(|_| store.retains(rv));
                    let items = match cached {
                        Some(items) => items,
                        None => match store.list_at(req.key, req.namespace, rv) {
                            Some(items) => sorted(items),
                            None => {
                                let mut err = expired(CONTINUE_EXPIRED.into());
                                err.status["metadata"]["continue"] =
                                    json!(encode_token(&start, -1));
                                return Err(err);
                            }
                        },
                    };
                    (items, rv, Some(start))
                }
            }
            None => {
                let (items, rv) = store.list(req.key, req.namespace);
                (sorted(items), rv, None)
            }
        };
        let from = match &start {
            Some(start) => items.partition_point(|o| relative_key(o, namespaced_list) < *start),
            None => 0,
        };
        let rest = items.get(from..).unwrap_or_default();
        let limit = req.limit.filter(|l| *l > 0).map(|l| l as usize);
        let mut page = Vec::new();
        let mut has_more = false;
        for (i, obj) in rest.iter().enumerate() {
            if matches(obj) {
                page.push(obj.clone());
            }
            if limit.is_some_and(|l| page.len() >= l) {
                has_more = i + 1 < rest.len();
                break;
            }
        }
        let (continue_token, remaining) = match page.last() {
            Some(last) if has_more => {
                let next = format!("{}\u{0}", relative_key(last, namespaced_list));
                self.remember(snapshot_id(rv), items.clone());
                let remaining =
                    (!req.selective).then(|| rest.len() as i64 - limit.unwrap_or_default() as i64);
                (Some(encode_token(&next, rv as i64)), remaining)
            }
            _ => (None, None),
        };
        Ok(Page {
            items: page,
            rv,
            continue_token,
            remaining,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "uid": name}})
    }

    fn req<'a>(
        key: &'a StorageKey,
        limit: i64,
        token: Option<&'a str>,
        selective: bool,
    ) -> ListRequest<'a> {
        ListRequest {
            key,
            namespace: Some("ns"),
            limit: Some(limit),
            continue_token: token,
            resource_version: None,
            selective,
        }
    }

    fn names(page: &Page) -> Vec<&str> {
        page.items.iter().map(|o| meta_str(o, "name")).collect()
    }

    #[test]
    fn pages_are_read_at_the_first_pages_version() {
        let store = Store::new(100);
        let key = StorageKey::new("", "configmaps");
        for n in ["a", "b", "c", "d", "e"] {
            store.create(&key, cm(n)).unwrap();
        }
        let s = Snapshots::default();
        let first = s
            .page(&store, &req(&key, 2, None, false), |_| true)
            .unwrap();
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.remaining, Some(3));
        let token = first.continue_token.clone().unwrap();
        assert_eq!(decode_token(&token).unwrap(), ("b\u{0}".to_string(), 6));
        // Later writes are not seen by later pages, from the cache or from the history.
        store.create(&key, cm("bb")).unwrap();
        store.remove(&key, "ns", "c");
        s.cached.lock().unwrap().clear();
        let second = s
            .page(&store, &req(&key, 2, Some(&token), false), |_| true)
            .unwrap();
        assert_eq!((names(&second), second.rv), (vec!["c", "d"], 6));
        assert_eq!(second.remaining, Some(1));
        let third = s
            .page(
                &store,
                &req(&key, 2, second.continue_token.as_deref(), false),
                |_| true,
            )
            .unwrap();
        assert_eq!(names(&third), ["e"]);
        assert!(third.continue_token.is_none() && third.remaining.is_none());
    }

    #[test]
    fn selectors_hide_the_remaining_count() {
        let store = Store::new(100);
        let key = StorageKey::new("", "configmaps");
        for n in ["a", "b", "c"] {
            store.create(&key, cm(n)).unwrap();
        }
        let s = Snapshots::default();
        let page = s
            .page(&store, &req(&key, 1, None, true), |o| {
                meta_str(o, "name") != "b"
            })
            .unwrap();
        assert_eq!(names(&page), ["a"]);
        assert!(page.continue_token.is_some());
        assert_eq!(page.remaining, None);
    }

    #[test]
    fn compacted_versions_expire_with_a_token_for_the_latest() {
        let store = Store::new(2);
        let key = StorageKey::new("", "configmaps");
        for n in ["a", "b", "c", "d"] {
            store.create(&key, cm(n)).unwrap();
        }
        let s = Snapshots::default();
        let token = encode_token("a\u{0}", 2);
        let err = s
            .page(&store, &req(&key, 1, Some(&token), false), |_| true)
            .err()
            .unwrap();
        assert_eq!(err.code, 410);
        assert_eq!(err.status["message"], CONTINUE_EXPIRED);
        let next = err.status["metadata"]["continue"].as_str().unwrap();
        let page = s
            .page(&store, &req(&key, 5, Some(next), false), |_| true)
            .unwrap();
        assert_eq!(names(&page), ["b", "c", "d"]);
        assert_eq!(page.rv, store.current_rv());
    }

    #[test]
    fn bad_tokens_are_refused() {
        for (token, message) in [
            (
                "%%%",
                "continue key is not valid: illegal base64 data at input byte 0",
            ),
            (
                &encode_token("", 5) as &str,
                "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
            ),
            (
                &encode_token("a", 0),
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ),
            (&encode_token("../x", 5), "continue key is not valid: ../x"),
        ] {
            assert_eq!(decode_token(token).err().as_deref(), Some(message));
        }
    }
}

//! Paginated lists (`limit` / `continue`). The first page takes a snapshot of the filtered list,
//! so later pages are consistent with it and carry the same resourceVersion, as etcd-backed
//! lists are; a token whose snapshot is gone gets 410 Expired with kube-apiserver's wording.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::json;

use crate::errors::{ApiResult, bad_request, expired};
use crate::store::Obj;

/// How long a list snapshot is kept for its continue tokens (etcd's default compaction interval).
const SNAPSHOT_TTL: Duration = Duration::from_secs(300);
const MAX_SNAPSHOTS: usize = 256;

pub const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

#[derive(Default)]
pub struct Snapshots {
    inner: Mutex<SnapshotsInner>,
}

#[derive(Default)]
struct SnapshotsInner {
    next_id: u64,
    by_id: HashMap<u64, Snapshot>,
}

struct Snapshot {
    items: Arc<Vec<Obj>>,
    rv: u64,
    taken: Instant,
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Obj>,
    pub rv: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<usize>,
}

fn encode_token(id: u64, offset: usize, rv: u64) -> String {
    let raw = json!({"id": id, "offset": offset, "rv": rv}).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_token(token: &str) -> Option<(u64, usize)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    Some((v["id"].as_u64()?, v["offset"].as_u64()? as usize))
}

impl Snapshots {
    /// A page of `items` (already filtered, consistent at `rv`), or of the snapshot a continue
    /// token points into.
    pub fn page(
        &self,
        fresh: impl FnOnce() -> (Vec<Obj>, u64),
        limit: Option<i64>,
        continue_token: Option<&str>,
    ) -> ApiResult<Page> {
        let limit = limit.filter(|l| *l > 0).map(|l| l as usize);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.by_id.retain(|_, s| s.taken.elapsed() < SNAPSHOT_TTL);
        let (id, items, rv, offset) = match continue_token {
            Some(token) => {
                let (id, offset) = decode_token(token)
                    .ok_or_else(|| bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
                let snap = inner
                    .by_id
                    .get(&id)
                    .ok_or_else(|| expired(CONTINUE_EXPIRED.into()))?;
                (id, snap.items.clone(), snap.rv, offset)
            }
            None => {
                let (items, rv) = fresh();
                let Some(limit) = limit.filter(|l| *l < items.len()) else {
                    return Ok(Page {
                        items,
                        rv,
                        continue_token: None,
                        remaining: None,
                    });
                };
                let _ = limit;
                inner.next_id += 1;
                let id = inner.next_id;
                if inner.by_id.len() >= MAX_SNAPSHOTS
                    && let Some(oldest) = inner
                        .by_id
                        .iter()
                        .min_by_key(|(_, s)| s.taken)
                        .map(|(k, _)| *k)
                {
                    inner.by_id.remove(&oldest);
                }
                let items = Arc::new(items);
                inner.by_id.insert(
                    id,
                    Snapshot {
                        items: items.clone(),
                        rv,
                        taken: Instant::now(),
                    },
                );
                (id, items, rv, 0)
            }
        };
        let end = limit.map_or(items.len(), |l| (offset + l).min(items.len()));
        let page: Vec<Obj> = items.get(offset..end).unwrap_or_default().to_vec();
        let (continue_token, remaining) = if end < items.len() {
            (Some(encode_token(id, end, rv)), Some(items.len() - end))
        } else {
            inner.by_id.remove(&id);
            (None, None)
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
    use serde_json::Value;

    fn objs(n: usize) -> Vec<Obj> {
        (0..n).map(|i| Arc::new(Value::from(i))).collect()
    }

    #[test]
    fn pages_share_one_snapshot() {
        let s = Snapshots::default();
        let first = s.page(|| (objs(5), 7), Some(2), None).unwrap();
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, Some(3));
        let token = first.continue_token.unwrap();
        let second = s
            .page(|| panic!("must use the snapshot"), Some(2), Some(&token))
            .unwrap();
        assert_eq!(second.rv, 7);
        assert_eq!(*second.items[0], Value::from(2));
        let third = s
            .page(|| panic!(), Some(2), second.continue_token.as_deref())
            .unwrap();
        assert_eq!(third.items.len(), 1);
        assert!(third.continue_token.is_none());
        let gone = s.page(|| panic!(), Some(2), Some(&token));
        assert_eq!(gone.err().map(|e| e.code), Some(410));
    }

    #[test]
    fn no_limit_returns_everything() {
        let s = Snapshots::default();
        let page = s.page(|| (objs(3), 1), None, None).unwrap();
        assert_eq!(page.items.len(), 3);
        assert!(page.continue_token.is_none());
    }
}

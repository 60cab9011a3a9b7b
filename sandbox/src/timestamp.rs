//! How the API writes a point in time (`metav1.Time`: RFC 3339 in UTC, whole seconds). A leaf:
//! it imports nothing of the crate, so every layer may use it.

use chrono::{DateTime, Utc};

/// `metav1.Now()` as it serializes.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(Utc::now())
}

/// A `metav1.Time` as it serializes: sub-second precision is dropped.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

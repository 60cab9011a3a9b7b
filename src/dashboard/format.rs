//! Times as kubectl prints them. Ages use apimachinery's `HumanDuration` (`45s`, `3m10s`, `5h3m`,
//! `3d4h`, `2y`), the AGE column of `kubectl get`; run times use the operator's own
//! `status.duration` format ([`crate::status::format_duration`]). `app.js` has the same two rules
//! to keep the numbers ticking in the browser.

/// `HumanDuration` of apimachinery (`k8s.io/apimachinery/pkg/util/duration`) for whole seconds:
/// up to 2 minutes in seconds, then two units while they are informative, one after that.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        // Clocks more than a second apart: kubectl says so rather than print a negative age.
        return "<invalid>".to_string();
    }
    let seconds = seconds.max(0);
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let years = hours / 24 / 365;
        return match (hours / 24) % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// A run time from Unix seconds, as `status.duration` writes it (`1m23s`).
pub fn run_time(start: i64, end: i64) -> String {
    crate::status::format_duration(k8s_openapi::jiff::SignedDuration::from_secs(end - start))
}

/// At most `max` characters of `text`, with `…` when cut.
pub fn snippet(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// What a failed API call says, for a page: the API server's message, not the whole Status.
pub fn api_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// Now in Unix seconds.
pub fn now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (190, "3m10s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 3 * 60, "5h3m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (5 * 86400, "5d"),
            (30 * 86400, "30d"),
            (2 * 365 * 86400, "2y"),
            (3 * 365 * 86400 + 5 * 86400, "3y5d"),
            (9 * 365 * 86400 + 86400, "9y"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(seconds), want, "{seconds}s");
        }
    }

    #[test]
    fn run_times_and_snippets() {
        assert_eq!(run_time(10, 93), "1m23s");
        assert_eq!(run_time(10, 5), "0s");
        assert_eq!(snippet("héllo", 3), "hél…");
        assert_eq!(snippet("abc", 3), "abc");
    }
}

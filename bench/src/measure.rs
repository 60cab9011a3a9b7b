//! Turning raw observations into numbers: latency distributions, the API writes a user made
//! (from the sandbox's request counts), and how long queued jobs waited for a freed slot.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kube_sandbox::StatsSnapshot;

/// A latency distribution, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latencies {
    sorted_ms: Vec<f64>,
}

impl Latencies {
    /// The distribution of `samples`.
    pub fn new(samples: impl IntoIterator<Item = Duration>) -> Self {
        let mut sorted_ms: Vec<f64> = samples
            .into_iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        sorted_ms.sort_by(f64::total_cmp);
        Latencies { sorted_ms }
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.sorted_ms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sorted_ms.is_empty()
    }

    /// The `p`-th percentile (0–100) by the nearest-rank method; 0 without samples.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.sorted_ms.is_empty() {
            return 0.0;
        }
        let rank = (p / 100.0 * self.sorted_ms.len() as f64).ceil() as usize;
        self.sorted_ms[rank.clamp(1, self.sorted_ms.len()) - 1]
    }

    /// The mean; 0 without samples.
    pub fn mean(&self) -> f64 {
        if self.sorted_ms.is_empty() {
            return 0.0;
        }
        self.sorted_ms.iter().sum::<f64>() / self.sorted_ms.len() as f64
    }

    /// The largest sample; 0 without samples.
    pub fn max(&self) -> f64 {
        self.sorted_ms.last().copied().unwrap_or(0.0)
    }

    /// The samples, smallest first.
    pub fn sorted_ms(&self) -> &[f64] {
        &self.sorted_ms
    }
}

/// Latencies from `start` to `end` of every key found in both. Returns the distribution, how
/// many keys of `start` have no end, and how many ends came before their start (an answer to a
/// create can reach this process after a watch event it caused; those count as zero).
pub fn paired(
    start: &HashMap<String, Instant>,
    end: &HashMap<String, Instant>,
) -> (Latencies, usize, usize) {
    let mut missing = 0;
    let mut early = 0;
    let mut samples = Vec::with_capacity(start.len());
    for (key, started) in start {
        match end.get(key) {
            Some(ended) => {
                if ended < started {
                    early += 1;
                }
                samples.push(ended.saturating_duration_since(*started));
            }
            None => missing += 1,
        }
    }
    (Latencies::new(samples), missing, early)
}

/// How long queued jobs waited for a freed slot with `--max-running limit`: the `k`-th slot
/// freed (a job seen finished) is taken by the `limit + k`-th runner Pod (seen created), so
/// each wait is the time between the two. Earlier Pods took free slots and did not wait.
pub fn slot_handoffs(finished: &[Instant], pods_created: &[Instant], limit: usize) -> Latencies {
    let mut finished = finished.to_vec();
    finished.sort();
    let mut created = pods_created.to_vec();
    created.sort();
    let waits = finished
        .iter()
        .zip(created.iter().skip(limit))
        .map(|(freed, taken)| taken.saturating_duration_since(*freed));
    Latencies::new(waits)
}

/// The verbs the sandbox counts as writes.
const WRITE_VERBS: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// The write requests of one user, by verb and resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Writes {
    /// Every write request, whatever its answer.
    pub total: u64,
    /// Those answered with a non-2xx code (conflicts, injected faults).
    pub failed: u64,
    /// By "verb resource[/subresource]", e.g. `update testjobs.testjob.dev/status`.
    pub by_kind: BTreeMap<String, u64>,
}

impl Writes {
    /// The writes `user` made according to `stats` (`None`: every user's).
    pub fn of(stats: &StatsSnapshot, user: Option<&str>) -> Self {
        let mut writes = Writes::default();
        for row in &stats.requests {
            if !WRITE_VERBS.contains(&row.verb.as_str()) || user.is_some_and(|u| row.user != u) {
                continue;
            }
            writes.total += row.count;
            if !(200..300).contains(&row.code) {
                writes.failed += row.count;
            }
            let kind = if row.subresource.is_empty() {
                format!("{} {}", row.verb, row.resource)
            } else {
                format!("{} {}/{}", row.verb, row.resource, row.subresource)
            };
            *writes.by_kind.entry(kind).or_default() += row.count;
        }
        writes
    }

    /// The writes made between snapshot `before` and this one.
    pub fn since(&self, before: &Writes) -> Writes {
        let by_kind = self
            .by_kind
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v - before.by_kind.get(k).copied().unwrap_or(0).min(*v),
                )
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        Writes {
            total: self.total.saturating_sub(before.total),
            failed: self.failed.saturating_sub(before.failed),
            by_kind,
        }
    }

    /// Writes to events (advisory records, not part of a job's state).
    pub fn events(&self) -> u64 {
        self.by_kind
            .iter()
            .filter(|(k, _)| k.contains(" events."))
            .map(|(_, v)| v)
            .sum()
    }
}

/// All requests (reads and writes) of `user`.
pub fn requests_of(stats: &StatsSnapshot, user: &str) -> u64 {
    stats
        .requests
        .iter()
        .filter(|r| r.user == user)
        .map(|r| r.count)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube_sandbox::stats::RequestCount;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latencies::new((1..=100).map(Duration::from_millis));
        assert_eq!(l.percentile(50.0), 50.0);
        assert_eq!(l.percentile(99.0), 99.0);
        assert_eq!(l.percentile(100.0), 100.0);
        assert_eq!(l.percentile(0.0), 1.0);
        assert_eq!(l.mean(), 50.5);
        assert_eq!(l.max(), 100.0);
        assert_eq!(Latencies::default().percentile(50.0), 0.0);
    }

    #[test]
    fn pairs_and_missing_and_early() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let start = HashMap::from([
            ("a".to_owned(), t),
            ("b".to_owned(), t + ms(10)),
            ("c".to_owned(), t),
        ]);
        let end = HashMap::from([
            ("a".to_owned(), t + ms(4)),
            ("b".to_owned(), t + ms(5)),
            ("z".to_owned(), t),
        ]);
        let (l, missing, early) = paired(&start, &end);
        assert_eq!((l.len(), missing, early), (2, 1, 1));
        assert_eq!(l.sorted_ms(), [0.0, 4.0]);
    }

    #[test]
    fn handoffs_pair_freed_slots_with_later_pods() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        // Limit 2: pods 0 and 1 start at once; pod 2 takes the slot freed at 100 ms, pod 3 the
        // one freed at 150 ms.
        let created = [t, t, t + ms(103), t + ms(160)];
        let finished = [t + ms(100), t + ms(150), t + ms(200), t + ms(210)];
        let waits = slot_handoffs(&finished, &created, 2);
        assert_eq!(waits.sorted_ms(), [3.0, 10.0]);
    }

    fn row(
        verb: &str,
        resource: &str,
        sub: &str,
        user: &str,
        code: u16,
        count: u64,
    ) -> RequestCount {
        RequestCount {
            verb: verb.into(),
            resource: resource.into(),
            subresource: sub.into(),
            user: user.into(),
            code,
            count,
        }
    }

    #[test]
    fn writes_by_user_and_since() {
        let stats = StatsSnapshot {
            requests: vec![
                row("create", "pods", "", "op", 201, 10),
                row("update", "testjobs.testjob.dev", "status", "op", 200, 20),
                row("update", "testjobs.testjob.dev", "status", "op", 409, 2),
                row("create", "events.events.k8s.io", "", "op", 201, 20),
                row("get", "pods", "", "op", 200, 50),
                row("create", "testjobs.testjob.dev", "", "admin", 201, 10),
            ],
            ..StatsSnapshot::default()
        };
        let op = Writes::of(&stats, Some("op"));
        assert_eq!((op.total, op.failed, op.events()), (52, 2, 20));
        assert_eq!(op.by_kind["update testjobs.testjob.dev/status"], 22);
        assert_eq!(Writes::of(&stats, None).total, 62);
        assert_eq!(requests_of(&stats, "op"), 102);
        let before = Writes {
            total: 2,
            failed: 0,
            by_kind: BTreeMap::from([("create pods".to_owned(), 2)]),
        };
        let delta = op.since(&before);
        assert_eq!((delta.total, delta.by_kind["create pods"]), (50, 8));
    }
}

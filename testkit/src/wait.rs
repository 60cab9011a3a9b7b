//! Waiting for a condition with a deadline: [`poll`] (async), [`poll_blocking`] (sync), and
//! [`Deadline`] for loops that need more than a closure can hold (mutable state, messages that
//! say what was seen last). Every timeout error says what was awaited and for how long.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::bail;

/// How often [`poll`] and [`poll_blocking`] look again.
pub const INTERVAL: Duration = Duration::from_millis(50);

/// A point in time after which waiting for `what` fails.
#[derive(Clone, Debug)]
pub struct Deadline {
    what: String,
    at: Instant,
    limit: Duration,
    interval: Duration,
}

impl Deadline {
    /// `limit` from now, waiting for `what` (for the error message), looking every [`INTERVAL`].
    pub fn after(what: impl Into<String>, limit: Duration) -> Deadline {
        Deadline {
            what: what.into(),
            at: Instant::now() + limit,
            limit,
            interval: INTERVAL,
        }
    }

    /// The same deadline, looking every `interval`.
    pub fn every(self, interval: Duration) -> Deadline {
        Deadline { interval, ..self }
    }

    /// Whether the deadline has passed.
    pub fn passed(&self) -> bool {
        Instant::now() > self.at
    }

    /// Fails once the deadline has passed.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.passed() {
            bail!("timed out after {:?} waiting for {}", self.limit, self.what);
        }
        Ok(())
    }

    /// Fails once the deadline has passed, else waits one interval.
    pub async fn tick(&self) -> anyhow::Result<()> {
        self.check()?;
        tokio::time::sleep(self.interval).await;
        Ok(())
    }

    /// [`Deadline::tick`] for synchronous code (it blocks the thread).
    pub fn tick_blocking(&self) -> anyhow::Result<()> {
        self.check()?;
        std::thread::sleep(self.interval);
        Ok(())
    }
}

/// Calls `check` every [`INTERVAL`] until it returns `Some`, failing after `limit` or as soon
/// as `check` fails.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    poll_with(Deadline::after(what, limit), check).await
}

/// [`poll`] until `deadline` (which sets how often to look).
pub async fn poll_with<T, F, Fut>(deadline: Deadline, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        deadline.tick().await?;
    }
}

/// [`poll`] for synchronous code: calls `check` until it returns `Some` (it blocks the thread).
pub fn poll_blocking<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Deadline::after(what, limit);
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        deadline.tick_blocking()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn poll_returns_the_first_value() {
        let mut calls = 0;
        let value = poll("the third call", Duration::from_secs(5), || {
            calls += 1;
            let done = calls == 3;
            async move { Ok(done.then_some(calls)) }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn poll_fails_after_the_deadline_saying_what_it_waited_for() {
        let error = poll("nothing", Duration::from_millis(120), || async {
            Ok(None::<()>)
        })
        .await
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "timed out after 120ms waiting for nothing"
        );
    }

    #[tokio::test]
    async fn poll_stops_at_the_first_error() {
        let error = poll("a failing check", Duration::from_secs(5), || async {
            anyhow::bail!("broken") as anyhow::Result<Option<()>>
        })
        .await
        .unwrap_err();
        assert_eq!(error.to_string(), "broken");
    }

    #[test]
    fn poll_blocking_waits_and_times_out() {
        let mut calls = 0;
        let value = poll_blocking("two calls", Duration::from_secs(5), || {
            calls += 1;
            (calls == 2).then_some(calls)
        });
        assert_eq!(value.unwrap(), 2);
        let error = poll_blocking("never", Duration::from_millis(60), || None::<()>).unwrap_err();
        assert!(error.to_string().contains("waiting for never"), "{error}");
    }
}

//! Fault injection for tests and benchmarks: a fraction of API requests answered 500 or 429
//! (with `Retry-After`), added latency, watch streams closed after a while, and a pause during
//! which requests hang. Set at start (`SandboxConfig::faults`, `kube-sandbox serve --fault-*`)
//! or at runtime (`Sandbox::set_faults`, `POST /sandbox/faults`). The `/sandbox/` control
//! endpoints themselves are never subject to faults.
//!
//! Shrinking the watch history to force 410 Gone is a store setting
//! (`Store::set_history_limit`, `POST /sandbox/watch-history`), not a fault here.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::errors::ApiError;

/// The fault settings, as JSON at `/sandbox/faults` (every field optional on input).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Fraction (0.0–1.0) of API requests answered with `error_code` instead of being served.
    pub error_rate: f64,
    /// 500 (InternalError) or 429 (TooManyRequests, with `Retry-After`).
    pub error_code: u16,
    /// The `Retry-After` of injected 429s (and their `details.retryAfterSeconds`).
    pub retry_after_seconds: u64,
    /// Added before every API request is served.
    pub latency_ms: u64,
    /// Watch streams started while this is non-zero end after this many seconds.
    pub watch_close_after_seconds: u64,
    /// Requests hang until this many seconds from when it is set have passed (0 = not
    /// paused). Reading it back gives the seconds left.
    pub pause_seconds: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            error_rate: 0.0,
            error_code: 500,
            retry_after_seconds: 1,
            latency_ms: 0,
            watch_close_after_seconds: 0,
            pause_seconds: 0,
        }
    }
}

impl FaultConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(format!(
                "error_rate must be between 0 and 1, not {}",
                self.error_rate
            ));
        }
        if !matches!(self.error_code, 500 | 429) {
            return Err(format!(
                "error_code must be 500 or 429, not {}",
                self.error_code
            ));
        }
        Ok(())
    }
}

/// The live fault state of one sandbox.
pub struct Faults {
    config: Mutex<FaultConfig>,
    /// When the current pause ends; `None` when not paused.
    pause_until: watch::Sender<Option<Instant>>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            config: Mutex::new(FaultConfig::default()),
            pause_until: watch::Sender::new(None),
        }
    }
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, FaultConfig> {
        self.config.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces every setting; `pause_seconds` starts (or, at 0, ends) a pause now.
    pub fn set(&self, config: FaultConfig) -> Result<(), String> {
        config.validate()?;
        let pause = config.pause_seconds;
        *self.lock() = FaultConfig {
            pause_seconds: 0,
            ..config
        };
        self.pause_until
            .send_replace((pause > 0).then(|| Instant::now() + Duration::from_secs(pause)));
        Ok(())
    }

    /// Changes the settings named in `patch` (a JSON object), keeping the others; a pause is
    /// changed only when `pause_seconds` is given.
    pub fn update(&self, patch: &Value) -> Result<FaultConfig, String> {
        let Some(fields) = patch.as_object() else {
            return Err("the body must be a JSON object".into());
        };
        let mut merged = serde_json::to_value(self.get()).map_err(|e| e.to_string())?;
        if let Some(m) = merged.as_object_mut() {
            if !fields.contains_key("pause_seconds") {
                m.remove("pause_seconds");
            }
            for (k, v) in fields {
                m.insert(k.clone(), v.clone());
            }
        }
        let config: FaultConfig = serde_json::from_value(merged).map_err(|e| e.to_string())?;
        config.validate()?;
        if fields.contains_key("pause_seconds") {
            self.set(config)?;
        } else {
            *self.lock() = FaultConfig {
                pause_seconds: 0,
                ..config
            };
        }
        Ok(self.get())
    }

    /// The settings now, with `pause_seconds` the whole seconds left of a pause.
    pub fn get(&self) -> FaultConfig {
        let mut config = self.lock().clone();
        config.pause_seconds = match *self.pause_until.borrow() {
            Some(until) => until
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .ceil() as u64,
            None => 0,
        };
        config
    }

    /// Waits out a pause (ending early if it is lifted), then the configured latency.
    pub async fn before_request(&self) {
        let mut rx = self.pause_until.subscribe();
        loop {
            let until = *rx.borrow_and_update();
            match until {
                Some(until) if until > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => {}
                        changed = rx.changed() => if changed.is_err() { break },
                    }
                }
                _ => break,
            }
        }
        let latency = self.lock().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
    }

    /// The error to answer this request with instead of serving it, if one is due, with the
    /// `Retry-After` seconds for 429s.
    pub fn injected_error(&self) -> Option<(ApiError, Option<u64>)> {
        let config = self.lock().clone();
        if config.error_rate <= 0.0 || rand::rng().random::<f64>() >= config.error_rate {
            return None;
        }
        Some(if config.error_code == 429 {
            (
                too_many_requests(config.retry_after_seconds),
                Some(config.retry_after_seconds),
            )
        } else {
            (internal_error(), None)
        })
    }

    /// How long a watch starting now may stream, if limited.
    pub fn watch_close_after(&self) -> Option<Duration> {
        let secs = self.lock().watch_close_after_seconds;
        (secs > 0).then(|| Duration::from_secs(secs))
    }
}

/// apierrors.NewTooManyRequests, as the apiserver's own 429s with a Status body carry it.
fn too_many_requests(retry_after: u64) -> ApiError {
    ApiError {
        code: 429,
        status: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Too many requests, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": retry_after},
            "code": 429,
        }),
    }
}

/// apierrors.NewInternalError of an injected fault.
fn internal_error() -> ApiError {
    const CAUSE: &str = "injected fault (kube-sandbox)";
    ApiError {
        code: 500,
        status: json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("Internal error occurred: {CAUSE}"),
            "reason": "InternalError",
            "details": {"causes": [{"message": CAUSE}]},
            "code": 500,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_merging() {
        let faults = Faults::default();
        assert!(
            faults
                .set(FaultConfig {
                    error_rate: 1.5,
                    ..Default::default()
                })
                .is_err()
        );
        assert!(faults.update(&json!({"error_code": 404})).is_err());
        assert!(faults.update(&json!({"bogus": 1})).is_err());
        let c = faults.update(&json!({"latency_ms": 5})).unwrap();
        assert_eq!(c.latency_ms, 5);
        let c = faults
            .update(&json!({"error_rate": 1.0, "error_code": 429}))
            .unwrap();
        assert_eq!((c.latency_ms, c.error_code), (5, 429));
        let (e, retry) = faults.injected_error().unwrap();
        assert_eq!((e.code, retry), (429, Some(1)));
        assert_eq!(e.status["reason"], "TooManyRequests");
        faults.set(FaultConfig::default()).unwrap();
        assert!(faults.injected_error().is_none());
    }

    #[tokio::test]
    async fn pause_holds_requests_until_it_ends_or_is_lifted() {
        let faults = std::sync::Arc::new(Faults::default());
        faults.update(&json!({"pause_seconds": 1})).unwrap();
        assert_eq!(faults.get().pause_seconds, 1);
        let start = Instant::now();
        faults.before_request().await;
        assert!(start.elapsed() >= Duration::from_millis(900));
        assert_eq!(faults.get().pause_seconds, 0);

        faults.update(&json!({"pause_seconds": 100})).unwrap();
        let mut waiter = {
            let f = faults.clone();
            tokio::spawn(async move { f.before_request().await })
        };
        let early = tokio::time::timeout(Duration::from_millis(200), &mut waiter).await;
        assert!(early.is_err(), "a paused request must not complete");
        faults.update(&json!({"pause_seconds": 0})).unwrap();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("a lifted pause releases waiting requests")
            .unwrap();
    }
}

//! The notification flags of `testjob-operator run`: where CloudEvents go and the secret they
//! are signed with. Only the cluster admin sets them (flags, or the Helm chart); nothing in a
//! TestJob can name an address the operator would send to.

use std::path::PathBuf;

use super::sign::SigningKey;

/// Flags of `testjob-operator run` for notifications.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct NotifyArgs {
    /// Send a signed CloudEvent to this URL (http or https) when a TestJob reaches a final phase
    /// or an attempt fails and is retried; repeatable (or comma-separated in the variable).
    #[arg(
        long = "notify-url",
        env = "TESTJOB_OPERATOR_NOTIFY_URL",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub urls: Vec<String>,

    /// File holding the Standard Webhooks secret (`whsec_<base64>`) that signs every
    /// notification; required with --notify-url.
    #[arg(long, env = "TESTJOB_OPERATOR_NOTIFY_SECRET_FILE", value_name = "PATH")]
    pub notify_secret_file: Option<PathBuf>,

    /// At most this many notifications wait for delivery in memory; more are dropped (counted in
    /// `testjob_notifications_dropped_total`) and retried from the TestJob's status at the next
    /// relist or restart.
    #[arg(
        long,
        env = "TESTJOB_OPERATOR_NOTIFY_QUEUE_SIZE",
        default_value_t = 1000
    )]
    pub notify_queue_size: usize,
}

/// Where notifications go, checked at start-up.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifyConfig {
    /// The receivers.
    pub sinks: Vec<reqwest::Url>,
    /// The signing key.
    pub key: SigningKey,
    /// The in-memory queue's capacity.
    pub queue_size: usize,
}

impl NotifyArgs {
    /// The notification settings, `None` without `--notify-url`; a message saying what is wrong
    /// otherwise.
    pub fn into_config(self) -> Result<Option<NotifyConfig>, String> {
        let urls: Vec<&str> = self
            .urls
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return match self.notify_secret_file {
                Some(_) => Err("--notify-secret-file was given without --notify-url".into()),
                None => Ok(None),
            };
        }
        let sinks = urls
            .iter()
            .map(|url| {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| format!("--notify-url {url:?} is not a URL: {e}"))?;
                match parsed.scheme() {
                    "http" | "https" => Ok(parsed),
                    other => Err(format!(
                        "--notify-url {url:?}: the scheme must be http or https, not {other}"
                    )),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        let Some(path) = self.notify_secret_file else {
            return Err(
                "--notify-url needs --notify-secret-file: every notification is signed \
                 (Standard Webhooks), so receivers can tell it came from this operator"
                    .into(),
            );
        };
        let secret = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read --notify-secret-file {}: {e}", path.display()))?;
        let key = SigningKey::parse(&secret)
            .map_err(|e| format!("--notify-secret-file {}: {e}", path.display()))?;
        if self.notify_queue_size == 0 {
            return Err("--notify-queue-size must be at least 1".into());
        }
        Ok(Some(NotifyConfig {
            sinks,
            key,
            queue_size: self.notify_queue_size,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(urls: &[&str], secret: Option<&str>) -> (NotifyArgs, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = secret.map(|s| {
            let path = dir.path().join("secret");
            std::fs::write(&path, s).expect("write");
            path
        });
        (
            NotifyArgs {
                urls: urls.iter().map(|u| u.to_string()).collect(),
                notify_secret_file: path,
                notify_queue_size: 10,
            },
            dir,
        )
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn no_url_means_no_notifications() {
        assert_eq!(args(&[], None).0.into_config(), Ok(None));
    }

    #[test]
    fn a_sink_without_a_secret_is_refused_at_start_up() {
        let err = args(&["http://127.0.0.1:9/hook"], None)
            .0
            .into_config()
            .expect_err("refused");
        assert!(
            err.starts_with("--notify-url needs --notify-secret-file"),
            "{err}"
        );
    }

    #[test]
    fn bad_urls_and_secrets_are_refused_with_the_reason() {
        let err = args(&["ftp://x/"], Some(SECRET))
            .0
            .into_config()
            .expect_err("scheme");
        assert!(err.contains("must be http or https"), "{err}");
        let err = args(&["not a url"], Some(SECRET))
            .0
            .into_config()
            .expect_err("url");
        assert!(err.contains("is not a URL"), "{err}");
        let err = args(&["http://x/"], Some("hunter2"))
            .0
            .into_config()
            .expect_err("secret");
        assert!(err.contains("starts with \"whsec_\""), "{err}");
        let err = args(&[], Some(SECRET))
            .0
            .into_config()
            .expect_err("secret alone");
        assert!(err.contains("without --notify-url"), "{err}");
    }

    #[test]
    fn several_sinks_share_one_key() {
        let (args, _dir) = args(
            &["http://127.0.0.1:9/a", "https://hooks.example/b"],
            Some(SECRET),
        );
        let config = args.into_config().expect("valid").expect("configured");
        assert_eq!(config.sinks.len(), 2);
        assert_eq!(config.queue_size, 10);
    }
}

//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the secret is `whsec_`
//! followed by base64 key bytes; a request carries `webhook-id`, `webhook-timestamp` (Unix
//! seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, so
//! receivers verify with any Standard Webhooks library.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing key, read from a `whsec_…` secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Reads a secret `whsec_<base64>` (surrounding white space ignored).
    pub fn parse(secret: &str) -> Result<Self, String> {
        let secret = secret.trim();
        let Some(encoded) = secret.strip_prefix(SECRET_PREFIX) else {
            return Err(format!(
                "a Standard Webhooks secret starts with {SECRET_PREFIX:?} followed by base64"
            ));
        };
        let key = STANDARD
            .decode(encoded)
            .map_err(|e| format!("the secret after {SECRET_PREFIX:?} is not base64: {e}"))?;
        if key.len() < 16 {
            return Err(format!(
                "the secret is {} bytes long; use at least 16 random bytes (24 or more recommended)",
                key.len()
            ));
        }
        Ok(SigningKey(key))
    }

    /// The `webhook-signature` header value for a message `id` sent at `timestamp` with `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_base64_of_enough_bytes() {
        assert!(SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(SigningKey::parse("  whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").is_ok());
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***",
            "whsec_c2hvcnQ=",
        ] {
            assert!(SigningKey::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!(
                "{:?}",
                SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            ),
            "Ok(SigningKey(..))"
        );
    }

    /// The example of the Standard Webhooks specification's reference libraries
    /// (standard-webhooks/libraries, python/tests: secret, msg_id, timestamp, payload).
    #[test]
    fn signs_as_the_reference_implementations_do() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("key");
        let signature = key.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}

//! The key this sandbox signs ServiceAccount tokens with, and the JWT (HS256) signing and
//! checking of them. A leaf: the shared `State` holds the key, and the authenticator
//! (`auth::authn`, which reads `State`) puts claims in and takes them out, so it imports
//! neither.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use ring::hmac;
use serde_json::Value;

/// Signs and verifies this sandbox's ServiceAccount tokens.
pub struct TokenKeys {
    key: hmac::Key,
    key_id: String,
}

impl Default for TokenKeys {
    fn default() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let mut id = [0u8; 12];
        rand::rng().fill_bytes(&mut id);
        TokenKeys {
            key: hmac::Key::new(hmac::HMAC_SHA256, &secret),
            key_id: URL_SAFE_NO_PAD.encode(id),
        }
    }
}

impl TokenKeys {
    /// A compact JWS of `payload` (the claims' JSON), signed with HS256.
    pub(crate) fn sign(&self, payload: &[u8]) -> String {
        let header = serde_json::json!({"alg": "HS256", "kid": self.key_id});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = hmac::sign(&self.key, signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
    }

    /// The payload of a token this key signed, or `None` when it is malformed or the signature
    /// does not hold.
    pub(crate) fn verify(&self, token: &str) -> Option<Vec<u8>> {
        let (signing_input, signature) = token.rsplit_once('.')?;
        let (header, payload) = signing_input.split_once('.')?;
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header["alg"] != "HS256" {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        hmac::verify(&self.key, signing_input.as_bytes(), &signature).ok()?;
        URL_SAFE_NO_PAD.decode(payload).ok()
    }
}

//! Standard Webhooks signatures (standardwebhooks.com spec): the secret is `whsec_` + base64
//! key; `webhook-signature: v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`,
//! with `webhook-timestamp` in seconds since the epoch.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A new webhook secret: `whsec_` + base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!("whsec_{}", B64.encode(key))
}

/// The `webhook-signature` header value for one attempt. A secret without the `whsec_`
/// prefix or with invalid base64 is used as raw bytes.
pub fn sign(secret: &str, webhook_id: &str, timestamp_secs: i64, body: &str) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{webhook_id}.{timestamp_secs}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header of a call signed for `company` at `now_ms`: one `v1,…`
/// entry with its webhook secret, preceded by one with the secret a rotation replaced while
/// its grace period lasts (`v1,<old> v1,<new>`), so a receiver that verifies with either key
/// accepts the call (Standard Webhooks allows several space-separated signatures).
pub fn signature_header(
    company: &overture_core::Company,
    now_ms: i64,
    webhook_id: &str,
    timestamp_secs: i64,
    body: &str,
) -> String {
    use secrecy::ExposeSecret;
    let current = sign(
        company.webhook_secret.expose_secret(),
        webhook_id,
        timestamp_secs,
        body,
    );
    match company
        .retired
        .webhook
        .as_ref()
        .and_then(|r| r.live_at(now_ms))
    {
        Some(old) => format!(
            "{} {current}",
            sign(old.expose_secret(), webhook_id, timestamp_secs, body)
        ),
        None => current,
    }
}

/// Checks a `webhook-signature` header (space-separated `v1,<sig>` entries) as a receiver does.
pub fn verify(
    secret: &str,
    webhook_id: &str,
    timestamp_secs: i64,
    body: &str,
    header: &str,
) -> bool {
    let expected = sign(secret, webhook_id, timestamp_secs, body);
    header.split(' ').any(|candidate| {
        candidate.len() == expected.len()
            && candidate
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // Test vector from the Standard Webhooks reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let sig = sign(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            &sig
        ));
        assert!(!verify(
            secret,
            "msg_other",
            1614265330,
            r#"{"test": 2432232314}"#,
            &sig
        ));
    }

    #[test]
    fn generated_secrets_have_the_prefix() {
        let s = generate_secret();
        assert!(s.starts_with("whsec_"));
        assert_ne!(s, generate_secret());
    }
}

//! Per-account sandbox credentials without an account registry.
//!
//! A sandbox holds one secret [`SandboxSeed`] (32 bytes). Opening an account draws random
//! public identifiers (an endpoint id, a user name, an API key id…) and derives every secret
//! from the seed and those identifiers:
//!
//! `secret = hex(HMAC-SHA256(seed, "<psp>/<credential name>/<public id>"))` (64 hex digits).
//!
//! When a request names a public identifier, the simulator derives the secret again to check
//! the request, and signs that account's callbacks with it. Nothing is stored, so a sandbox
//! restarted with the same seed still knows every account it ever opened, and a secret of one
//! account is worth nothing for another. Each simulator keeps its own names (`<psp>`,
//! `<credential name>`) in its folder.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use rand::{Rng, RngCore};
use secrecy::SecretString;
use sha2::Sha256;
use std::fmt;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

/// Length of a seed in bytes.
pub const SEED_LEN: usize = 32;

/// Why a seed was refused.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// Stable code `SANDBOX_SEED_INVALID`.
    #[error("sandbox seed must be 32 bytes, base64-encoded")]
    Invalid,
}

impl SeedError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid => "SANDBOX_SEED_INVALID",
        }
    }
}

/// The sandbox's secret seed. `Debug` never shows it; cloning shares it.
#[derive(Clone)]
pub struct SandboxSeed(Arc<[u8; SEED_LEN]>);

impl fmt::Debug for SandboxSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SandboxSeed(..)")
    }
}

impl SandboxSeed {
    /// A fresh random seed (tests, or a sandbox whose accounts need not survive a restart).
    pub fn random() -> Self {
        let mut bytes = [0u8; SEED_LEN];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// The seed made of `bytes` (e.g. derived from Overture's master key).
    pub fn from_bytes(bytes: [u8; SEED_LEN]) -> Self {
        Self(Arc::new(bytes))
    }

    /// From standard base64 of exactly 32 bytes (surrounding white space ignored).
    pub fn from_base64(text: &str) -> Result<Self, SeedError> {
        let bytes = B64.decode(text.trim()).map_err(|_| SeedError::Invalid)?;
        let bytes: [u8; SEED_LEN] = bytes.try_into().map_err(|_| SeedError::Invalid)?;
        Ok(Self::from_bytes(bytes))
    }

    /// Standard base64 of a new random seed, for a seed file.
    pub fn generate_base64() -> SecretString {
        SecretString::from(B64.encode(*Self::random().0))
    }

    fn mac(&self, psp: &str, name: &str, public_id: &str) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        let mut mac = HmacSha256::new_from_slice(self.0.as_slice())
            .unwrap_or_else(|_| unreachable!("HMAC accepts 32-byte keys"));
        mac.update(format!("{psp}/{name}/{public_id}").as_bytes());
        mac
    }

    /// The secret `name` of the `psp` account named by `public_id`: 64 lower-case hex digits
    /// of `HMAC-SHA256(seed, "<psp>/<name>/<public_id>")`.
    pub fn derive(&self, psp: &str, name: &str, public_id: &str) -> String {
        hex::encode(self.mac(psp, name, public_id).finalize().into_bytes())
    }

    /// The first `len` hex digits of [`SandboxSeed::derive`] (at most 64): a shorter value
    /// for identifiers bound to an account (a login, a campaign id), not for secrets.
    pub fn derive_short(&self, psp: &str, name: &str, public_id: &str, len: usize) -> String {
        let mut full = self.derive(psp, name, public_id);
        full.truncate(len);
        full
    }

    /// True when `presented` is the secret [`SandboxSeed::derive`] gives, compared in
    /// constant time (hex digits in either case).
    pub fn verify(&self, psp: &str, name: &str, public_id: &str, presented: &str) -> bool {
        let Ok(bytes) = hex::decode(presented.trim()) else {
            return false;
        };
        self.mac(psp, name, public_id).verify_slice(&bytes).is_ok()
    }
}

/// `len` random letters and digits, for public identifiers.
pub fn random_alphanumeric(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// `len` random decimal digits, the first one not `0` (`len` ≥ 1), for numeric identifiers.
pub fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|i| {
            let low = if i == 0 { 1 } else { 0 };
            char::from(b'0' + rng.gen_range(low..10u8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_depends_on_seed_name_and_public_id() {
        let seed = SandboxSeed::random();
        let secret = seed.derive("paymentsoft", "merchant_control", "4201");
        assert_eq!(secret.len(), 64);
        assert_eq!(
            secret,
            seed.derive("paymentsoft", "merchant_control", "4201")
        );
        assert_ne!(
            secret,
            seed.derive("paymentsoft", "merchant_control", "4202")
        );
        assert_ne!(secret, seed.derive("paymentsoft", "login", "4201"));
        assert_ne!(secret, seed.derive("cardzo", "merchant_control", "4201"));
        let other = SandboxSeed::random();
        assert_ne!(
            secret,
            other.derive("paymentsoft", "merchant_control", "4201")
        );
        assert_eq!(
            seed.derive_short("paymentsoft", "merchant_control", "4201", 16),
            secret[..16]
        );
    }

    #[test]
    fn matches_an_independent_hmac() {
        // Computed outside Rust: `printf 'psp/name/id' | openssl dgst -sha256 -mac HMAC
        // -macopt hexkey:0b0b…0b` (a key of 32 bytes 0x0b).
        let seed = SandboxSeed::from_bytes([0x0b; SEED_LEN]);
        assert_eq!(
            seed.derive("psp", "name", "id"),
            "790d9da4b685b39dfa0eae1b01eec5d46943dc9df7bc2c1da7992435bb97eeea"
        );
    }

    #[test]
    fn verify_accepts_only_the_derived_secret() {
        let seed = SandboxSeed::random();
        let secret = seed.derive("brite", "secret", "pk_1");
        assert!(seed.verify("brite", "secret", "pk_1", &secret));
        assert!(seed.verify("brite", "secret", "pk_1", &secret.to_ascii_uppercase()));
        assert!(!seed.verify("brite", "secret", "pk_2", &secret));
        assert!(!seed.verify("brite", "secret", "pk_1", &secret[..62]));
        assert!(!seed.verify("brite", "secret", "pk_1", "not hex"));
        assert!(!SandboxSeed::random().verify("brite", "secret", "pk_1", &secret));
    }

    #[test]
    fn seeds_round_trip_base64_and_never_show_in_debug() {
        use secrecy::ExposeSecret;
        let text = SandboxSeed::generate_base64();
        let seed = SandboxSeed::from_base64(text.expose_secret()).unwrap();
        let again = SandboxSeed::from_base64(&format!("{}\n", text.expose_secret())).unwrap();
        assert_eq!(seed.derive("a", "b", "c"), again.derive("a", "b", "c"));
        assert_eq!(format!("{seed:?}"), "SandboxSeed(..)");
        assert!(SandboxSeed::from_base64("c2hvcnQ=").is_err());
        assert!(SandboxSeed::from_base64("not base64!").is_err());
    }

    #[test]
    fn random_identifiers_have_the_asked_shape() {
        let digits = random_digits(12);
        assert_eq!(digits.len(), 12);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(digits.as_bytes()[0], b'0');
        let id = random_alphanumeric(20);
        assert_eq!(id.len(), 20);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(random_alphanumeric(20), id);
    }
}

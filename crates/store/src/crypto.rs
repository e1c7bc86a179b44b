//! Secrets at rest (docs/ARCHITECTURE.md): AES-256-GCM with a random 96-bit nonce per value. Stored
//! form: `v1:` + base64(nonce ‖ ciphertext ‖ tag). The master key also derives other
//! keys by label ([`Cipher::derive_key`]).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::sync::Arc;

/// Why a key or a sealed value was refused.
#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error("master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("sealed value is corrupt or was sealed with another master key")]
    BadCiphertext,
}

/// Seals and opens secrets with the master key.
#[derive(Clone)]
pub struct Cipher {
    aead: Arc<Aes256Gcm>,
    /// HMAC-SHA256 keyed with the master key, ready for [`Cipher::derive_key`].
    derivation: Arc<Hmac<Sha256>>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    /// From a base64-encoded 32-byte key (`OVERTURE_MASTER_KEY`).
    pub fn from_base64(key: &str) -> Result<Self, CipherError> {
        let bytes = B64.decode(key.trim()).map_err(|_| CipherError::BadKey)?;
        let aead = Aes256Gcm::new_from_slice(&bytes).map_err(|_| CipherError::BadKey)?;
        let derivation =
            <Hmac<Sha256> as Mac>::new_from_slice(&bytes).map_err(|_| CipherError::BadKey)?;
        Ok(Self {
            aead: Arc::new(aead),
            derivation: Arc::new(derivation),
        })
    }

    /// A 32-byte key for another purpose, `HMAC-SHA256(master key, label)`: the same master
    /// key and label always give the same key, and nothing about the master key or another
    /// label's key can be learnt from it. Labels name their purpose and version
    /// (`"overture/sandbox-seed/v1"`).
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut mac = (*self.derivation).clone();
        mac.update(label.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        B64.encode(key)
    }

    /// Encrypts `plaintext`.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs this small.
        let ciphertext = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("v1:{}", B64.encode(out))
    }

    /// Decrypts a value made by [`Cipher::seal`].
    pub fn open(&self, sealed: &str) -> Result<String, CipherError> {
        let raw = sealed
            .strip_prefix("v1:")
            .and_then(|b| B64.decode(b).ok())
            .filter(|r| r.len() > 12)
            .ok_or(CipherError::BadCiphertext)?;
        let (nonce, ciphertext) = raw.split_at(12);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CipherError::BadCiphertext)?;
        String::from_utf8(plain).map_err(|_| CipherError::BadCiphertext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_the_wrong_key() {
        let c = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        let sealed = c.seal("merchant-control-123");
        assert!(!sealed.contains("merchant-control"));
        assert_eq!(c.open(&sealed).unwrap(), "merchant-control-123");
        assert_ne!(c.seal("x"), c.seal("x"), "nonces differ");
        let other = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(Cipher::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn derived_keys_depend_on_key_and_label_only() {
        let key = Cipher::generate_key();
        let c = Cipher::from_base64(&key).unwrap();
        let again = Cipher::from_base64(&key).unwrap();
        assert_eq!(c.derive_key("a/v1"), again.derive_key("a/v1"));
        assert_ne!(c.derive_key("a/v1"), c.derive_key("b/v1"));
        let other = Cipher::from_base64(&Cipher::generate_key()).unwrap();
        assert_ne!(c.derive_key("a/v1"), other.derive_key("a/v1"));
        assert_ne!(c.derive_key("a/v1").to_vec(), B64.decode(&key).unwrap());
    }

    #[test]
    fn derived_key_is_hmac_sha256_of_the_label() {
        // `printf 'overture/sandbox-seed/v1' | openssl dgst -sha256 -mac HMAC
        //  -macopt hexkey:0101…01` (a master key of 32 bytes 0x01).
        let c = Cipher::from_base64(&B64.encode([1u8; 32])).unwrap();
        assert_eq!(
            hex_of(&c.derive_key("overture/sandbox-seed/v1")),
            "0798eed6a3338b0576a380f9946edbb9e736c5a037192d3cbf34c3ed0982d49b"
        );
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

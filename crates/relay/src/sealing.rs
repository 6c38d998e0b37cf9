//! Tenants' Paystack secrets are kept sealed: XChaCha20-Poly1305 under a 256-bit key that
//! lives only in the relay's environment (`MALIPO_RELAY_SECRET_KEY`, 64 hex digits). The
//! database alone never reveals a secret.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use malipo_domain::Secret;

/// The key that seals tenants' secrets.
#[derive(Clone)]
pub struct SealingKey(XChaCha20Poly1305);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("MALIPO_RELAY_SECRET_KEY must be 64 hex digits (make one with `openssl rand -hex 32`)")]
    BadKey,
    #[error(
        "a sealed secret could not be opened: wrong MALIPO_RELAY_SECRET_KEY, or the database was altered"
    )]
    Open,
    #[error("no randomness available")]
    Random,
}

impl SealingKey {
    pub fn from_hex(hex: &str) -> Result<SealingKey, SealError> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(SealError::BadKey);
        }
        let bytes: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| SealError::BadKey)?;
        XChaCha20Poly1305::new_from_slice(&bytes)
            .map(SealingKey)
            .map_err(|_| SealError::BadKey)
    }

    /// The key from `MALIPO_RELAY_SECRET_KEY`, if set.
    pub fn from_env() -> Result<Option<SealingKey>, SealError> {
        match std::env::var("MALIPO_RELAY_SECRET_KEY")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(hex) => SealingKey::from_hex(&hex).map(Some),
            None => Ok(None),
        }
    }

    pub fn seal(&self, secret: &Secret) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0_u8; 24];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let sealed = self
            .0
            .encrypt(XNonce::from_slice(&nonce), secret.expose().as_bytes())
            .map_err(|_| SealError::Random)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Secret, SealError> {
        if sealed.len() < 24 {
            return Err(SealError::Open);
        }
        let (nonce, body) = sealed.split_at(24);
        let plain = self
            .0
            .decrypt(XNonce::from_slice(nonce), body)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SealError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_hides_its_text() {
        let key = SealingKey::from_hex(&"ab".repeat(32)).unwrap();
        let sealed = key.seal(&Secret::new("sk_test_abc")).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("sk_test_abc"));
        assert_eq!(key.open(&sealed).unwrap().expose(), "sk_test_abc");
        let other = SealingKey::from_hex(&"cd".repeat(32)).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::Open));
        let mut tampered = sealed.clone();
        tampered[30] ^= 1;
        assert_eq!(key.open(&tampered), Err(SealError::Open));
        assert_eq!(
            SealingKey::from_hex("short").unwrap_err(),
            SealError::BadKey
        );
        assert!(!format!("{key:?}").contains("ab"));
    }
}

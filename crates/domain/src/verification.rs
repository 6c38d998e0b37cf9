//! The verification link a receipt's QR code carries, and its signature.
//!
//! `{relay}/v/{key id}/{receipt number}/{amount in minor units}{currency}/{YYYYMMDD}/{signature}`,
//! for example `https://relay.example.co.ke/v/3f9a0c1d2b4e5f60/HQ-R000017/150000KES/20261127/…`.
//!
//! Each office device signs with a receipt key made for that purpose: HMAC-SHA256 of a fixed
//! label keyed with the device's relay token ([`receipt_key`]). The device derives it from the
//! token it holds; the relay derives it once from the token the device presents and keeps it
//! sealed. Neither the relay's stored token hash nor anything in a link reveals it. The key id is
//! the first 16 hex digits of the key's SHA-256, so the relay finds the key without the link
//! revealing any of it. The signature is HMAC-SHA256 over the fields, cut to 128 bits (32 hex
//! digits), ample against forgery and small in a QR code.
//!
//! Receipts printed before receipt keys existed were signed with the token's SHA-256
//! ([`token_key`], whose first 16 hex digits were the key id); the relay still accepts those for
//! receipts dated before it upgraded.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::Date;

use crate::money::{Currency, Money};

/// Hex of SHA-256: how the relay stores a device token (and, before receipt keys, the key
/// receipts were signed with).
pub fn token_key(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The receipt key of the device holding `token`, hex.
pub fn receipt_key(token: &str) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("any key length");
    mac.update(b"malipo receipt key v1");
    hex(&mac.finalize().into_bytes())
}

/// The id a link names `key` by: the first 16 hex digits of its SHA-256.
pub fn receipt_key_id(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))[..16].to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a verification link vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    pub receipt_number: String,
    pub amount: Money,
    pub date: Date,
}

fn message(v: &Vouched) -> String {
    format!(
        "malipo-receipt-v1|{}|{}|{}|{}",
        v.receipt_number,
        v.amount.minor(),
        v.amount.currency().code(),
        compact(v.date)
    )
}

fn compact(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

fn sign(key: &str, v: &Vouched) -> Vec<u8> {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message(v).as_bytes());
    mac.finalize().into_bytes()[..16].to_vec()
}

/// The key id of a token-hash key (links signed before receipt keys): its first 16 hex digits.
pub fn legacy_key_id(key: &str) -> &str {
    &key[..key.len().min(16)]
}

/// The signed link for `v` under the relay at `base`, signed with receipt `key` (named by
/// [`receipt_key_id`]).
pub fn link(base: &str, key: &str, v: &Vouched) -> String {
    signed_link(base, &receipt_key_id(key), key, v)
}

/// A link naming `key_id` and signed with `key`.
pub fn signed_link(base: &str, key_id: &str, key: &str, v: &Vouched) -> String {
    format!(
        "{}/v/{}/{}/{}{}/{}/{}",
        base.trim_end_matches('/'),
        key_id,
        v.receipt_number,
        v.amount.minor(),
        v.amount.currency().code(),
        compact(v.date),
        hex(&sign(key, v))
    )
}

/// The parts of a link's path after `/v/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPath {
    pub key_id: String,
    pub vouched: Vouched,
    pub signature: String,
}

/// Reads `key id`, `receipt`, `amount+currency`, `date` and `signature` from the path segments.
pub fn parse(
    key_id: &str,
    receipt: &str,
    amount: &str,
    date: &str,
    signature: &str,
) -> Option<LinkPath> {
    let digits = amount.len().checked_sub(3)?;
    let (minor, code) = amount.split_at(digits);
    let currency = Currency::from_code(code).ok()?;
    let amount = Money::from_minor(minor.parse().ok()?, currency).ok()?;
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = time::Month::try_from(date[4..6].parse::<u8>().ok()?).ok()?;
    let date =
        Date::from_calendar_date(date[..4].parse().ok()?, month, date[6..].parse().ok()?).ok()?;
    if receipt.is_empty() || receipt.len() > 32 || signature.len() != 32 {
        return None;
    }
    Some(LinkPath {
        key_id: key_id.to_owned(),
        vouched: Vouched {
            receipt_number: receipt.to_owned(),
            amount,
            date,
        },
        signature: signature.to_ascii_lowercase(),
    })
}

/// Whether `signature` (hex) is the signature of `v` under `key`, compared in constant time.
pub fn verify(key: &str, v: &Vouched, signature: &str) -> bool {
    let want = hex(&sign(key, v));
    want.len() == signature.len()
        && want
            .bytes()
            .zip(signature.bytes())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vouched() -> Vouched {
        Vouched {
            receipt_number: "HQ-R000017".into(),
            amount: Money::from_minor(150_000, Currency::Kes).unwrap(),
            date: time::macros::date!(2026 - 11 - 27),
        }
    }

    #[test]
    fn a_link_reads_back_and_verifies_and_any_change_breaks_it() {
        let key = receipt_key("device-token");
        let url = link("https://relay.example.co.ke/", &key, &vouched());
        let path = url.strip_prefix("https://relay.example.co.ke/v/").unwrap();
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts[1..4], ["HQ-R000017", "150000KES", "20261127"]);
        let read = parse(parts[0], parts[1], parts[2], parts[3], parts[4]).unwrap();
        assert_eq!(read.key_id, receipt_key_id(&key));
        assert!(
            !key.starts_with(&read.key_id) && !token_key("device-token").contains(&key[..16]),
            "the link reveals nothing of the key, and the relay's token hash is not it"
        );
        assert_eq!(read.vouched, vouched());
        assert!(verify(&key, &read.vouched, &read.signature));

        let mut more = read.vouched.clone();
        more.amount = Money::from_minor(1_500_000, Currency::Kes).unwrap();
        assert!(!verify(&key, &more, &read.signature), "another amount");
        let mut other = read.vouched.clone();
        other.receipt_number = "HQ-R000018".into();
        assert!(!verify(&key, &other, &read.signature), "another receipt");
        assert!(
            !verify(&receipt_key("other-token"), &read.vouched, &read.signature),
            "another key"
        );
        assert!(
            !verify(&token_key("device-token"), &read.vouched, &read.signature),
            "the token's hash (what a relay database holds) cannot sign"
        );
    }

    #[test]
    fn malformed_paths_are_refused() {
        let sig = "0".repeat(32);
        assert!(parse("k", "HQ-R1", "150000KES", "20261127", &sig).is_some());
        assert!(parse("k", "HQ-R1", "KES", "20261127", &sig).is_none());
        assert!(parse("k", "HQ-R1", "150000XYZ", "20261127", &sig).is_none());
        assert!(parse("k", "HQ-R1", "150000KES", "20261327", &sig).is_none());
        assert!(parse("k", "HQ-R1", "150000KES", "2026112", &sig).is_none());
        assert!(parse("k", "HQ-R1", "150000KES", "20261127", "abc").is_none());
        assert!(parse("k", "", "150000KES", "20261127", &sig).is_none());
    }
}

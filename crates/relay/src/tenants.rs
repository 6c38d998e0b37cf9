//! Tenants as the callback handlers need them, remembered for a few seconds so that a burst of
//! callbacks does not read (and, for Paystack, unseal) the same row for every request.
//!
//! An entry lives [`TTL`]: a new Paystack secret, a rotated Daraja URL or the end of a rotation's
//! grace period takes effect on every instance within that time. Lookups that find nothing (or
//! a tenant without a usable secret) are never remembered, so what was just added is found at
//! once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use malipo_domain::Secret;

use crate::sealing::{SealError, SealingKey};
use crate::store::{RelayError, RelayStore, Tenant, now_ms, token_hash};

/// How long a looked-up tenant is reused.
pub const TTL: Duration = Duration::from_secs(10);

/// Beyond this many entries the cache starts again from empty, so a flood of distinct valid
/// URLs cannot grow it without bound.
const CAPACITY: usize = 10_000;

/// A tenant's Paystack secret as the webhook handler finds it.
#[derive(Debug, Clone)]
pub enum PaystackSecret {
    Set(Secret),
    /// The tenant has no secret on the relay.
    NotSet,
    /// The relay has no sealing key, so no secret can be opened.
    NoKey,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Store(#[from] RelayError),
    #[error(transparent)]
    Seal(#[from] SealError),
}

struct Entry<T> {
    at: Instant,
    /// When the entry stops being true whatever the TTL (ms since the epoch).
    until_ms: Option<i64>,
    value: T,
}

struct Map<T>(Mutex<HashMap<String, Entry<T>>>);

impl<T: Clone> Map<T> {
    fn new() -> Map<T> {
        Map(Mutex::new(HashMap::new()))
    }

    fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    fn get(&self, key: &str) -> Option<T> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|e| e.at.elapsed() < TTL && e.until_ms.is_none_or(|u| now_ms() < u))
            .map(|e| e.value.clone())
    }

    fn put(&self, key: String, value: T, until_ms: Option<i64>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                at: Instant::now(),
                until_ms,
                value,
            },
        );
    }
}

/// The cache. Keys are SHA-256 hashes of the URL tokens, never the tokens themselves.
pub struct Tenants {
    daraja: Map<Tenant>,
    paystack: Map<(Tenant, PaystackSecret)>,
    c2b: Map<crate::paybill::C2bTenant>,
}

impl std::fmt::Debug for Tenants {
    /// Sizes only: the entries hold tenants' secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("daraja", &self.daraja.len())
            .field("paystack", &self.paystack.len())
            .field("c2b", &self.c2b.len())
            .finish()
    }
}

impl Default for Tenants {
    fn default() -> Tenants {
        Tenants {
            daraja: Map::new(),
            paystack: Map::new(),
            c2b: Map::new(),
        }
    }
}

impl Tenants {
    /// The tenant whose Daraja callback URL carries `token`.
    pub async fn by_daraja_token(
        &self,
        store: &RelayStore,
        token: &str,
    ) -> Result<Option<Tenant>, RelayError> {
        let key = token_hash(token);
        if let Some(t) = self.daraja.get(&key) {
            return Ok(Some(t));
        }
        let Some((tenant, until_ms)) = store.tenant_by_daraja_token(token).await? else {
            return Ok(None);
        };
        // A rotated-away URL is remembered no longer than its grace period.
        self.daraja.put(key, tenant.clone(), until_ms);
        Ok(Some(tenant))
    }

    /// The tenant whose C2B URLs carry `token`, with its smallest accepted payment.
    pub async fn by_c2b_token(
        &self,
        store: &RelayStore,
        token: &str,
    ) -> Result<Option<crate::paybill::C2bTenant>, RelayError> {
        let key = token_hash(token);
        if let Some(t) = self.c2b.get(&key) {
            return Ok(Some(t));
        }
        let Some((tenant, until_ms)) = store.tenant_by_c2b_token(token).await? else {
            return Ok(None);
        };
        self.c2b.put(key, tenant.clone(), until_ms);
        Ok(Some(tenant))
    }

    /// The tenant `id` and its opened Paystack secret.
    pub async fn with_paystack_secret(
        &self,
        store: &RelayStore,
        sealing: Option<&SealingKey>,
        id: &str,
    ) -> Result<Option<(Tenant, PaystackSecret)>, LookupError> {
        if let Some(found) = self.paystack.get(id) {
            return Ok(Some(found));
        }
        let Some((tenant, sealed)) = store.tenant_with_paystack_secret(id).await? else {
            return Ok(None);
        };
        let secret = match (sealed, sealing) {
            (Some(sealed), Some(key)) => PaystackSecret::Set(key.open(&sealed)?),
            (None, _) => PaystackSecret::NotSet,
            (Some(_), None) => PaystackSecret::NoKey,
        };
        // Only a usable secret is remembered, so one set a moment ago is used at once.
        if let PaystackSecret::Set(_) = &secret {
            self.paystack
                .put(id.to_owned(), (tenant.clone(), secret.clone()), None);
        }
        Ok(Some((tenant, secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_not_used_past_its_own_end() {
        let map = Map::new();
        map.put("current".into(), 1, None);
        map.put("expired".into(), 2, Some(now_ms() - 1));
        map.put("in grace".into(), 3, Some(now_ms() + 60_000));
        assert_eq!(map.get("current"), Some(1));
        assert_eq!(map.get("expired"), None);
        assert_eq!(map.get("in grace"), Some(3));
        assert_eq!(map.get("never seen"), None);
    }

    #[test]
    fn a_full_cache_starts_again_rather_than_growing() {
        let map = Map::new();
        for i in 0..CAPACITY + 5 {
            map.put(i.to_string(), i, None);
        }
        assert!(map.len() <= CAPACITY);
        assert_eq!(map.get(&(CAPACITY + 4).to_string()), Some(CAPACITY + 4));
    }
}

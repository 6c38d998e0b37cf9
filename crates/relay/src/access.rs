//! Who may post callbacks: optional source-address allowlists per provider (Paystack's
//! published addresses as a preset), `X-Forwarded-For` believed only when the connection comes
//! from a configured trusted proxy, and a per-source rate limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The addresses Paystack documents as the only sources of its webhooks (test and live).
pub const PAYSTACK_ADDRESSES: [&str; 3] = ["52.31.139.75", "52.49.173.169", "52.214.14.220"];

/// The addresses Safaricom publishes as the sources of Daraja's callbacks (results of STK
/// pushes, C2B, reversals and status queries) for production.
pub const SAFARICOM_ADDRESSES: [&str; 12] = [
    "196.201.214.200",
    "196.201.214.206",
    "196.201.213.114",
    "196.201.214.207",
    "196.201.214.208",
    "196.201.213.44",
    "196.201.212.127",
    "196.201.212.138",
    "196.201.212.129",
    "196.201.212.136",
    "196.201.212.74",
    "196.201.212.69",
];

/// An allowlist as an operator writes it: `safaricom` or `paystack` for the provider's
/// published addresses, `off` (or nothing) for none, or addresses and blocks separated by
/// commas. `Ok(None)`: every address may post.
pub fn parse_allow(text: &str) -> Result<Option<Vec<Cidr>>, String> {
    match text.trim() {
        "" | "off" => Ok(None),
        "safaricom" => parse_list(&SAFARICOM_ADDRESSES.join(",")).map(Some),
        "paystack" => parse_list(&PAYSTACK_ADDRESSES.join(",")).map(Some),
        list => parse_list(list).map(Some),
    }
}

/// An address block such as `10.0.0.0/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let text = text.trim();
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?} has a bad prefix length"))?,
            None => max,
        };
        Ok(Cidr { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.net, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            _ => ip,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.bits))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.bits))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn parse_list(text: &str) -> Result<Vec<Cidr>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(Cidr::parse)
        .collect()
}

/// The relay's access rules.
#[derive(Debug, Default)]
pub struct Access {
    pub daraja_allow: Option<Vec<Cidr>>,
    pub paystack_allow: Option<Vec<Cidr>>,
    pub trusted_proxies: Vec<Cidr>,
    /// Callbacks one source may post per minute; 0 for no limit.
    pub per_minute: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Access {
    pub fn new(
        daraja_allow: Option<Vec<Cidr>>,
        paystack_allow: Option<Vec<Cidr>>,
        trusted_proxies: Vec<Cidr>,
        per_minute: u32,
    ) -> Access {
        Access {
            daraja_allow,
            paystack_allow,
            trusted_proxies,
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// From `MALIPO_RELAY_DARAJA_ALLOW` and `MALIPO_RELAY_PAYSTACK_ALLOW` (for every tenant; see
    /// [`parse_allow`]), `MALIPO_RELAY_TRUSTED_PROXIES` and
    /// `MALIPO_RELAY_RATE_LIMIT` (per source per minute, default 600).
    pub fn from_env() -> Result<Access, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let daraja_allow = var("MALIPO_RELAY_DARAJA_ALLOW")
            .map(|v| parse_allow(&v))
            .transpose()?
            .flatten();
        let paystack_allow = var("MALIPO_RELAY_PAYSTACK_ALLOW")
            .map(|v| parse_allow(&v))
            .transpose()?
            .flatten();
        let trusted_proxies = var("MALIPO_RELAY_TRUSTED_PROXIES")
            .map(|v| parse_list(&v))
            .transpose()?
            .unwrap_or_default();
        let per_minute = match var("MALIPO_RELAY_RATE_LIMIT") {
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| format!("MALIPO_RELAY_RATE_LIMIT={v} is not a number"))?,
            None => 600,
        };
        Ok(Access::new(
            daraja_allow,
            paystack_allow,
            trusted_proxies,
            per_minute,
        ))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: IpAddr| self.trusted_proxies.iter().any(|c| c.contains(ip));
        if !trusted(peer) {
            return peer;
        }
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(*ip))
            .unwrap_or(peer)
    }

    /// Whether `ip` may post to `provider`'s URL.
    pub fn allowed(&self, provider: &str, ip: IpAddr) -> bool {
        let list = match provider {
            "daraja" => &self.daraja_allow,
            "paystack" => &self.paystack_allow,
            _ => &None,
        };
        list.as_ref()
            .is_none_or(|l| l.iter().any(|c| c.contains(ip)))
    }

    /// Counts one request from `ip`; false once it is over its limit for this minute.
    pub fn take(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let (start, count) = windows.entry(ip).or_insert((now, 0));
        if now.duration_since(*start) >= Duration::from_secs(60) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= self.per_minute
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_what_they_should() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains(ip("10.1.255.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(
            Cidr::parse("52.31.139.75")
                .unwrap()
                .contains(ip("::ffff:52.31.139.75"))
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("example.com").is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let access = Access::new(None, None, vec![Cidr::parse("10.0.0.0/8").unwrap()], 0);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "52.31.139.75, 10.0.0.7".parse().unwrap());
        assert_eq!(access.client_ip(ip("10.0.0.2"), &h), ip("52.31.139.75"));
        assert_eq!(
            access.client_ip(ip("198.51.100.9"), &h),
            ip("198.51.100.9"),
            "an untrusted peer cannot claim an address"
        );
    }

    #[test]
    fn presets_name_the_providers_published_addresses() {
        let safaricom = parse_allow("safaricom").unwrap().unwrap();
        assert_eq!(safaricom.len(), 12);
        assert!(safaricom.iter().any(|c| c.contains(ip("196.201.214.200"))));
        assert!(!safaricom.iter().any(|c| c.contains(ip("196.201.214.1"))));
        assert_eq!(parse_allow("paystack").unwrap().unwrap().len(), 3);
        assert_eq!(parse_allow("off").unwrap(), None);
        assert!(parse_allow("safaricom.example").is_err());
    }

    #[test]
    fn the_rate_limit_counts_per_source() {
        let access = Access::new(None, None, Vec::new(), 3);
        assert!((0..3).all(|_| access.take(ip("192.0.2.1"))));
        assert!(!access.take(ip("192.0.2.1")));
        assert!(
            access.take(ip("192.0.2.2")),
            "another source has its own allowance"
        );
    }
}

//! Paybill (C2B) payments: Safaricom's validation and confirmation at the tenant's secret-token
//! URLs, the claims that let exactly one counter record a payment, and the company's suspense
//! list of confirmed payments whose account matched no policy.
//!
//! Validation answers from the policy register within Safaricom's eight seconds: an account
//! that matches no policy (forgiving case, spaces, hyphens, slashes and dots) or only a
//! cancelled one is refused (`C2B00012`), an amount under the tenant's minimum too
//! (`C2B00013`). A confirmation is stored like every callback (answered only once committed,
//! distinct bodies distinct events) and fed to the tenant's devices; it is a claim, which the
//! office proves with Transaction Status before anything is recorded.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use malipo_providers::daraja::c2b;
use malipo_relay_api as api;

use crate::devices::DeviceAuth;
use crate::store::{
    ROTATION_GRACE_MS, RelayError, RelayStore, Result, Tenant, new_token, now_ms, on_db, token_hash,
};
use crate::{Outcome, Relay, Source, internal, problem};

/// A tenant as the C2B handlers need it.
#[derive(Debug, Clone)]
pub struct C2bTenant {
    pub tenant: Tenant,
    /// Payments under this (minor units) are refused at validation.
    pub min_minor: i64,
}

/// Daraja's validation answer: `ResultCode` is a string here (`"0"`, `"C2B00012"`).
#[derive(Serialize)]
struct ValidationAnswer {
    #[serde(rename = "ResultCode")]
    result_code: &'static str,
    #[serde(rename = "ResultDesc")]
    result_desc: &'static str,
}

/// The confirmation's acknowledgement.
#[derive(Serialize)]
struct ConfirmationAck {
    #[serde(rename = "ResultCode")]
    result_code: u8,
    #[serde(rename = "ResultDesc")]
    result_desc: &'static str,
}

impl RelayStore {
    /// The tenant whose C2B URLs carry `token` (current, or previous within its grace), and
    /// for a previous one when it stops working (ms).
    pub async fn tenant_by_c2b_token(
        &self,
        token: &str,
    ) -> Result<Option<(C2bTenant, Option<i64>)>> {
        let hash = token_hash(token);
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT id, name, daraja_allow, c2b_min_minor,
                        CASE WHEN c2b_token_hash = ? THEN NULL ELSE previous_c2b_valid_until END AS until
                 FROM tenants WHERE c2b_token_hash = ?
                 OR (previous_c2b_token_hash = ? AND previous_c2b_valid_until > ?)",
            ))
            .bind(&hash)
            .bind(&hash)
            .bind(&hash)
            .bind(now_ms())
            .fetch_optional(pool)
            .await?
            .map(|r| {
                (
                    C2bTenant {
                        tenant: Tenant {
                            id: r.get("id"),
                            name: r.get("name"),
                            daraja_allow: r.get("daraja_allow"),
                        },
                        min_minor: r.get("c2b_min_minor"),
                    },
                    r.get("until"),
                )
            })
        }))
    }

    /// Gives the tenant new C2B URLs (the token shown once); the previous ones keep working
    /// for [`ROTATION_GRACE_MS`]. A tenant made before paybill gets its first ones this way.
    pub async fn rotate_c2b_token(&self, tenant_id: &str) -> Result<String> {
        let token = new_token()?;
        let affected = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "UPDATE tenants SET previous_c2b_token_hash = c2b_token_hash,
                        previous_c2b_valid_until = ?, c2b_token_hash = ? WHERE id = ?",
            ))
            .bind(now_ms() + ROTATION_GRACE_MS)
            .bind(token_hash(&token))
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if affected == 0 {
            return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
        }
        Ok(token)
    }

    /// Sets the smallest payment validation accepts (minor units).
    pub async fn set_c2b_minimum(&self, tenant_id: &str, min_minor: i64) -> Result<()> {
        let affected = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql("UPDATE tenants SET c2b_min_minor = ? WHERE id = ?"))
                .bind(min_minor)
                .bind(tenant_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if affected == 0 {
            return Err(RelayError::NotFound(format!("tenant {tenant_id}")));
        }
        Ok(())
    }

    /// The statuses of the register's policies whose number matches `key` (see
    /// [`c2b::account_key`]).
    pub async fn account_statuses(&self, tenant_id: &str, key: &str) -> Result<Vec<String>> {
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT status FROM register WHERE tenant_id = ? AND account_key = ? LIMIT 4",
            ))
            .bind(tenant_id)
            .bind(key)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get("status"))
            .collect()
        }))
    }

    /// The branch holding the one open policy whose number matches `key`, when exactly one
    /// branch does.
    pub async fn account_office(&self, tenant_id: &str, key: &str) -> Result<Option<String>> {
        let offices: Vec<Option<String>> = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT DISTINCT office FROM register
                 WHERE tenant_id = ? AND account_key = ? AND status <> 'cancelled' LIMIT 2",
            ))
            .bind(tenant_id)
            .bind(key)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| r.get("office"))
            .collect()
        });
        Ok(match offices.as_slice() {
            [one] => one.clone(),
            _ => None,
        })
    }

    /// Claims `subject` for `device`: the first claim holds it; a later one learns who does.
    pub async fn claim(
        &self,
        tenant_id: &str,
        device_id: &str,
        subject: &str,
    ) -> Result<(bool, String)> {
        let holder: String = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "INSERT INTO claims (tenant_id, subject, device_id, claimed_at) VALUES (?, ?, ?, ?)
                 ON CONFLICT (tenant_id, subject) DO NOTHING",
            ))
            .bind(tenant_id)
            .bind(subject)
            .bind(device_id)
            .bind(now_ms())
            .execute(pool)
            .await?;
            sqlx::query(sql(
                "SELECT device_id FROM claims WHERE tenant_id = ? AND subject = ?",
            ))
            .bind(tenant_id)
            .bind(subject)
            .fetch_one(pool)
            .await?
            .get("device_id")
        });
        Ok((holder == device_id, holder))
    }

    /// A device's name and counter.
    async fn device_name(&self, device_id: &str) -> Result<(String, Option<String>)> {
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql("SELECT name, counter FROM devices WHERE id = ?"))
                .bind(device_id)
                .fetch_optional(pool)
                .await?
                .map_or_else(
                    || (device_id.to_owned(), None),
                    |r| (r.get("name"), r.get("counter")),
                )
        }))
    }

    /// Keeps a confirmed payment that matched no policy (once per receipt).
    pub async fn add_suspense(
        &self,
        tenant_id: &str,
        device_id: &str,
        s: &api::SuspenseItem,
    ) -> Result<()> {
        let paid_at = OffsetDateTime::parse(&s.paid_at, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map_err(|_| {
                RelayError::Invalid(format!("paid_at {:?} is not an RFC 3339 time", s.paid_at))
            })?;
        on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "INSERT INTO suspense (tenant_id, trans_id, amount_minor, currency, account, payer,
                     msisdn, paid_at, found_by)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (tenant_id, trans_id) DO NOTHING",
            ))
            .bind(tenant_id)
            .bind(&s.trans_id)
            .bind(s.amount_minor)
            .bind(&s.currency)
            .bind(&s.account)
            .bind(&s.payer)
            .bind(&s.msisdn)
            .bind(paid_at)
            .bind(device_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The tenant's suspense items, oldest first; open ones only unless `all`.
    pub async fn suspense(&self, tenant_id: &str, all: bool) -> Result<Vec<api::SuspenseItem>> {
        let rfc = |ms: i64| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default()
        };
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT s.*, d.name AS decider FROM suspense s LEFT JOIN devices d ON d.id = s.decided_by
                 WHERE s.tenant_id = ? AND (? OR s.status = 'open') ORDER BY s.paid_at, s.trans_id",
            ))
            .bind(tenant_id)
            .bind(all)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| api::SuspenseItem {
                trans_id: r.get("trans_id"),
                amount_minor: r.get("amount_minor"),
                currency: r.get("currency"),
                account: r.get("account"),
                payer: r.get("payer"),
                msisdn: r.get("msisdn"),
                paid_at: rfc(r.get("paid_at")),
                status: r.get("status"),
                policy: r.get("policy"),
                note: r.get("note"),
                decided_by: r.get("decider"),
            })
            .collect()
        }))
    }

    /// Decides a suspense item for the company: once. `Err(Taken)` names who decided first.
    /// The device that decided it may send the same decision again (its answer may have been
    /// lost before it recorded the payment).
    pub async fn decide_suspense(
        &self,
        tenant_id: &str,
        device_id: &str,
        d: &api::SuspenseDecision,
    ) -> Result<api::SuspenseItem> {
        let status = if d.refund { "refund" } else { "allocated" };
        let changed = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "UPDATE suspense SET status = ?, policy = ?, note = ?, decided_by = ?, decided_at = ?
                 WHERE tenant_id = ? AND trans_id = ?
                   AND (status = 'open'
                        OR (decided_by = ? AND status = ? AND coalesce(policy, '') = ?))",
            ))
            .bind(status)
            .bind(&d.policy)
            .bind(&d.note)
            .bind(device_id)
            .bind(now_ms())
            .bind(tenant_id)
            .bind(&d.trans_id)
            .bind(device_id)
            .bind(status)
            .bind(d.policy.as_deref().unwrap_or_default())
            .execute(pool)
            .await?
            .rows_affected()
        });
        let item = self
            .suspense(tenant_id, true)
            .await?
            .into_iter()
            .find(|s| s.trans_id == d.trans_id)
            .ok_or_else(|| RelayError::NotFound(format!("suspense payment {}", d.trans_id)))?;
        if changed == 0 {
            return Err(RelayError::Taken(format!(
                "{} was already decided by {} ({}{})",
                d.trans_id,
                item.decided_by.as_deref().unwrap_or("another counter"),
                item.status,
                item.policy
                    .as_deref()
                    .map(|p| format!(" to {p}"))
                    .unwrap_or_default()
            )));
        }
        Ok(item)
    }
}

/// Answers an allowlist refusal for the tenant, or nothing when the source may call.
fn refused_source(tenant: &Tenant, source: Option<&axum::Extension<Source>>) -> Option<Response> {
    let text = tenant.daraja_allow.as_deref()?;
    let client = source.map(|s| s.0.0);
    let allowed = match crate::access::parse_allow(text) {
        Ok(None) => true,
        Ok(Some(list)) => client.is_some_and(|ip| list.iter().any(|c| c.contains(ip))),
        Err(_) => false,
    };
    (!allowed).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            api::ProblemCode::SourceNotAllowed,
            "this tenant accepts Daraja callbacks only from its allowlist",
        )
    })
}

fn answered(
    result_code: &'static str,
    result_desc: &'static str,
    outcome: &'static str,
) -> Response {
    let mut r = Json(ValidationAnswer {
        result_code,
        result_desc,
    })
    .into_response();
    r.extensions_mut().insert(Outcome(outcome));
    r
}

/// The tenant whose C2B URL this is (from an allowed source) and the payment the body
/// describes, or the answer that refuses the request.
async fn c2b_request(
    relay: &Relay,
    token: &str,
    source: Option<&axum::Extension<Source>>,
    body: &[u8],
) -> std::result::Result<(C2bTenant, c2b::C2bPayment), Response> {
    let tenant = match relay.tenants.by_c2b_token(&relay.store, token).await {
        Ok(Some(t)) => t,
        Ok(None) => {
            return Err(problem(
                StatusCode::NOT_FOUND,
                api::ProblemCode::UnknownUrl,
                "no tenant has this URL",
            ));
        }
        Err(e) => return Err(internal(&e)),
    };
    if let Some(r) = refused_source(&tenant.tenant, source) {
        return Err(r);
    }
    match c2b::parse_payment(body) {
        Ok(p) => Ok((tenant, p)),
        Err(e) => Err(problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Malformed,
            &e.to_string(),
        )),
    }
}

/// Safaricom asks whether to take a payment: yes, or which rule it breaks.
pub(crate) async fn validate(
    State(relay): State<Relay>,
    Path(token): Path<String>,
    source: Option<axum::Extension<Source>>,
    body: Bytes,
) -> Response {
    let (tenant, payment) = match c2b_request(&relay, &token, source.as_ref(), &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    // A till (Buy Goods) payment has no account to check: it is taken, and matched to a
    // policy at the counter once Safaricom confirms it.
    if c2b::is_till(&payment) {
        if payment.amount.minor() < tenant.min_minor {
            return answered("C2B00013", "Rejected", "rejected_amount");
        }
        return answered("0", "Accepted", "accepted");
    }
    let key = c2b::account_key(&payment.account);
    let statuses = if key.is_empty() {
        Vec::new()
    } else {
        match relay.store.account_statuses(&tenant.tenant.id, &key).await {
            Ok(s) => s,
            // No answer lets Safaricom apply the default the tenant registered.
            Err(e) => return internal(&e),
        }
    };
    if !statuses.iter().any(|s| s != "cancelled") {
        return answered("C2B00012", "Rejected", "rejected_account");
    }
    if payment.amount.minor() < tenant.min_minor {
        return answered("C2B00013", "Rejected", "rejected_amount");
    }
    answered("0", "Accepted", "accepted")
}

/// Safaricom says a payment was made: stored, then acknowledged.
pub(crate) async fn confirm(
    State(relay): State<Relay>,
    Path(token): Path<String>,
    source: Option<axum::Extension<Source>>,
    body: Bytes,
) -> Response {
    let (tenant, payment) = match c2b_request(&relay, &token, source.as_ref(), &body).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let office = match relay
        .store
        .account_office(&tenant.tenant.id, &c2b::account_key(&payment.account))
        .await
    {
        Ok(o) => o,
        Err(e) => return internal(&e),
    };
    // Sent again, the same bytes are one event; a different body naming the same receipt is
    // its own (a forgery must not shadow the genuine one: the office asks Safaricom).
    let incoming = crate::store::Incoming {
        tenant_id: tenant.tenant.id,
        provider: "daraja",
        kind: "c2b_confirmation".to_owned(),
        dedup_key: format!("c2b:{}:{}", payment.trans_id, crate::store::digest(&body)),
        subject: payment.trans_id,
        source_addr: source.map(|s| s.0.0.to_string()),
        headers: "{}".to_owned(),
        body: body.to_vec(),
        office,
    };
    match relay.store.ingest(incoming).await {
        Ok(stored) => {
            let mut r = Json(ConfirmationAck {
                result_code: 0,
                result_desc: "Success",
            })
            .into_response();
            r.extensions_mut().insert(Outcome(match stored {
                crate::store::Stored::New(_) => "stored",
                crate::store::Stored::Duplicate => "duplicate",
            }));
            r
        }
        Err(e) => internal(&e),
    }
}

/// A device claims something for the company.
pub(crate) async fn claim(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Json(c): Json<api::Claim>,
) -> Response {
    let subject = c.subject.trim();
    if subject.is_empty() || subject.len() > 80 || !subject.bytes().all(|b| b.is_ascii_graphic()) {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            "subject is 1 to 80 printable characters",
        );
    }
    let (won, holder) = match store.claim(&device.tenant_id, &device.id, subject).await {
        Ok(x) => x,
        Err(e) => return internal(&e),
    };
    let (name, counter) = match store.device_name(&holder).await {
        Ok(n) => n,
        Err(e) => return internal(&e),
    };
    Json(api::ClaimAnswer {
        won,
        device: name,
        counter,
    })
    .into_response()
}

/// The longest note a suspense decision may carry.
pub const MAX_NOTE: usize = 500;

#[derive(Debug, Deserialize)]
pub(crate) struct SuspenseQuery {
    #[serde(default)]
    all: bool,
}

pub(crate) async fn suspense_list(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Query(q): Query<SuspenseQuery>,
) -> Response {
    match store.suspense(&device.tenant_id, q.all).await {
        Ok(items) => Json(items).into_response(),
        Err(e) => internal(&e),
    }
}

pub(crate) async fn suspense_add(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Json(item): Json<api::SuspenseItem>,
) -> Response {
    if !c2b::is_receipt_number(&item.trans_id) || item.amount_minor <= 0 {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            "a suspense payment needs its M-Pesa code and amount",
        );
    }
    // As long as Safaricom's own fields get (the office cuts a confirmation's to these).
    let bounded = [
        ("currency", item.currency.as_str(), 3),
        ("account", item.account.as_str(), 40),
        ("payer", item.payer.as_str(), 130),
        ("msisdn", item.msisdn.as_str(), 20),
        ("paid_at", item.paid_at.as_str(), 40),
    ];
    if let Some((field, _, max)) = bounded
        .iter()
        .find(|(_, value, max)| value.chars().count() > *max)
    {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            &format!("{field} is longer than {max} characters"),
        );
    }
    match store
        .add_suspense(&device.tenant_id, &device.id, &item)
        .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(RelayError::Invalid(why)) => {
            problem(StatusCode::BAD_REQUEST, api::ProblemCode::Invalid, &why)
        }
        Err(e) => internal(&e),
    }
}

pub(crate) async fn suspense_decide(
    State(Relay { store, .. }): State<Relay>,
    DeviceAuth(device): DeviceAuth,
    Json(d): Json<api::SuspenseDecision>,
) -> Response {
    if d.note.trim().is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            "say why, in a note",
        );
    }
    if d.note.chars().count() > MAX_NOTE || d.policy.as_ref().is_some_and(|p| p.len() > 40) {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            &format!("a note is at most {MAX_NOTE} characters and a policy number 40"),
        );
    }
    if d.refund == d.policy.is_some() {
        return problem(
            StatusCode::BAD_REQUEST,
            api::ProblemCode::Invalid,
            "give a policy, or mark it for refund",
        );
    }
    match store
        .decide_suspense(&device.tenant_id, &device.id, &d)
        .await
    {
        Ok(item) => Json(item).into_response(),
        Err(RelayError::Taken(why)) => {
            problem(StatusCode::CONFLICT, api::ProblemCode::AlreadyDecided, &why)
        }
        Err(RelayError::NotFound(what)) => problem(
            StatusCode::NOT_FOUND,
            api::ProblemCode::NotFound,
            &format!("{what} is not in suspense"),
        ),
        Err(e) => internal(&e),
    }
}

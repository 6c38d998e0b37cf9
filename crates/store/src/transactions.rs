//! Payments: creation with the office's next transaction number, history search, and status
//! changes through the domain state machine with receipt numbers and the audit log.

use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::{Date, OffsetDateTime};

use malipo_domain::time_zone::{day_start_ms, from_ms, nairobi_date, to_ms};
use malipo_domain::transaction::{self, Outcome, TxEvent};
use malipo_domain::{
    Desk, Email, Method, Money, Msisdn, ProviderReference, ReceiptNumber, TxNumber, TxStatus,
};

use crate::audit::{self, Change};
use crate::policies::money_from_row;
use crate::{Result, Store, StoreError, parse_col, unique_violation};

/// A payment about to be asked of a provider.
#[derive(Debug, Clone)]
pub struct NewTransaction {
    /// Where it is taken (branch and counter): the prefix of its numbers.
    pub desk: Desk,
    pub policy_id: i64,
    pub method: Method,
    pub amount: Money,
    pub phone: Option<Msisdn>,
    pub email: Option<Email>,
    pub reference: ProviderReference,
    pub clerk_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRecord {
    pub id: i64,
    pub number: String,
    pub reference: String,
    pub policy_number: String,
    pub holder: String,
    pub method: Method,
    pub status: TxStatus,
    pub amount: Money,
    pub refunded: Money,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub provider_ref: Option<String>,
    pub provider_receipt: Option<String>,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub receipt_number: Option<String>,
    pub clerk: Option<String>,
    pub authorization_url: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Who paid a paybill payment, as Safaricom names them.
    pub payer: Option<String>,
    /// Cash: what the customer handed over (the change is this less the amount).
    pub tendered: Option<Money>,
    /// A cheque's number, bank and where it stands (`received`, `banked`, `cleared`, `bounced`).
    pub cheque: Option<(String, String, String)>,
    /// A bank slip's reference.
    pub slip_ref: Option<String>,
    /// Paystack's channel (`card`, `mobile_money`, `ussd`, `bank_transfer`, ...), and what paid
    /// when it was not a card.
    pub channel: Option<String>,
    pub instrument: Option<String>,
    /// `card` or `mpesa_prompt` when the collector started it on a due day (none: a person did).
    pub collected_by: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// How a clerk names a transaction: its id, its number, or the provider reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxKey {
    Id(i64),
    Number(String),
    Reference(String),
    /// The provider's id for it: the CheckoutRequestID of an M-Pesa prompt.
    ProviderRef(String),
}

impl TxKey {
    /// `42` is an id, `NBI-000042` a number, `M…` (12 characters) a reference.
    pub fn parse(text: &str) -> TxKey {
        let t = text.trim();
        if let Ok(id) = t.parse::<i64>() {
            return TxKey::Id(id);
        }
        if ProviderReference::parse(t).is_ok() {
            return TxKey::Reference(t.to_owned());
        }
        TxKey::Number(t.to_ascii_uppercase())
    }
}

/// What the provider told us along with an event; `None` leaves a field as it was.
#[derive(Debug, Clone, Default)]
pub struct ProviderDetails {
    pub provider_ref: Option<String>,
    pub provider_receipt: Option<String>,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub authorization_url: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// Paystack's channel (`card`, `mobile_money`, `ussd`, ...), and what paid when not a card.
    pub channel: Option<String>,
    pub instrument: Option<String>,
}

/// History filters. Dates are Nairobi days, both ends included.
#[derive(Debug, Clone, Default)]
pub struct TxFilter {
    pub status: Option<TxStatus>,
    pub method: Option<Method>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub search: Option<String>,
    pub policy_id: Option<i64>,
    /// From 1; ignored when `after` is given.
    pub page: u32,
    pub per_page: u32,
    /// Keyset paging: the page starts after this payment (its `created_at` in ms and id, as
    /// [`Page::next`] gives them), so page 200 costs what page 1 does.
    pub after: Option<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many match in all; at least this many when `total_is_floor` (a broad search with
    /// other filters counts up to [`BROAD_COUNT`] and stops; a search alone is exact).
    pub total: i64,
    pub total_is_floor: bool,
    /// Where the next page starts (`after`), when this one is full.
    pub next: Option<(i64, i64)>,
}

/// A search with other filters matching more payments than this is counted only this far:
/// "more than 10,000" tells a clerk as much as the exact figure, and checking every match of a
/// common name against the filters would cost more than the page itself.
pub const BROAD_COUNT: i64 = 10_000;

const SELECT_TX: &str = "SELECT t.*, p.number AS policy_number, p.holder, u.username AS clerk,
            ch.number AS cheque_number, ch.bank AS cheque_bank, ch.state AS cheque_state,
            bs.bank_ref AS slip_ref
     FROM transactions t
     JOIN policies p ON p.id = t.policy_id
     LEFT JOIN users u ON u.id = t.clerk_id
     LEFT JOIN cheques ch ON ch.transaction_id = t.id
     LEFT JOIN bank_slips bs ON bs.transaction_id = t.id";

/// The same columns for a known list of ids (a JSON array), visiting only those payments.
const SELECT_TX_IDS: &str = "SELECT t.*, p.number AS policy_number, p.holder, u.username AS clerk,
            ch.number AS cheque_number, ch.bank AS cheque_bank, ch.state AS cheque_state,
            bs.bank_ref AS slip_ref
     FROM json_each(?) j CROSS JOIN transactions t ON t.id = j.value
     JOIN policies p ON p.id = t.policy_id
     LEFT JOIN users u ON u.id = t.clerk_id
     LEFT JOIN cheques ch ON ch.transaction_id = t.id
     LEFT JOIN bank_slips bs ON bs.transaction_id = t.id";

pub(crate) fn tx_from_row(r: &SqliteRow) -> Result<TransactionRecord> {
    Ok(TransactionRecord {
        id: r.get("id"),
        number: r.get("number"),
        reference: r.get("reference"),
        policy_number: r.get("policy_number"),
        holder: r.get("holder"),
        method: parse_col(r.get::<&str, _>("method"), "transactions.method")?,
        status: parse_col(r.get::<&str, _>("status"), "transactions.status")?,
        amount: money_from_row(r, "amount_minor")?,
        refunded: money_from_row(r, "refunded_minor")?,
        phone: r.get("phone"),
        email: r.get("email"),
        provider_ref: r.get("provider_ref"),
        provider_receipt: r.get("provider_receipt"),
        failure_code: r.get("failure_code"),
        failure_reason: r.get("failure_reason"),
        receipt_number: r.get("receipt_number"),
        clerk: r.get("clerk"),
        authorization_url: r.get("authorization_url"),
        card_brand: r.get("card_brand"),
        card_last4: r.get("card_last4"),
        payer: r.get("payer"),
        tendered: match r.get::<Option<i64>, _>("tendered_minor") {
            Some(_) => Some(money_from_row(r, "tendered_minor")?),
            None => None,
        },
        cheque: r
            .get::<Option<String>, _>("cheque_number")
            .map(|number| (number, r.get("cheque_bank"), r.get("cheque_state"))),
        slip_ref: r.get("slip_ref"),
        channel: r.get("channel"),
        instrument: r.get("instrument"),
        collected_by: r.get("collected_by"),
        created_at: from_ms(r.get("created_at")),
        updated_at: from_ms(r.get("updated_at")),
    })
}

/// The Nairobi day number stored in `transactions.day`.
pub(crate) fn day_number(date: Date) -> i64 {
    i64::from(date.to_julian_day()) - i64::from(UNIX_EPOCH_JULIAN_DAY)
}

pub(crate) fn date_from_day(day: i64) -> Date {
    Date::from_julian_day((day + i64::from(UNIX_EPOCH_JULIAN_DAY)) as i32).unwrap_or(Date::MIN)
}

const UNIX_EPOCH_JULIAN_DAY: i32 = 2_440_588;

/// Hands out the next number of a counter, inside the caller's transaction.
pub(crate) async fn next_in_sequence(conn: &mut SqliteConnection, name: &str) -> Result<u64> {
    let value: i64 = sqlx::query(
        "INSERT INTO counters (name, value) VALUES (?, 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
    )
    .bind(name)
    .fetch_one(conn)
    .await?
    .get("value");
    Ok(value as u64)
}

pub(crate) fn snapshot(t: &TransactionRecord) -> Value {
    json!({
        "status": t.status.as_str(),
        "amount_minor": t.amount.minor(),
        "refunded_minor": t.refunded.minor(),
        "currency": t.amount.currency().code(),
        "provider_ref": t.provider_ref,
        "provider_receipt": t.provider_receipt,
        "failure_code": t.failure_code,
        "receipt_number": t.receipt_number,
    })
}

/// Turns what a clerk typed into an FTS5 query: every word must match as a prefix.
/// A phone number, whole or begun, typed with spaces or dashes and the local way
/// (`0712 345…`) is searched as one number in the stored `254…` form.
fn fts_query(search: &str) -> Option<String> {
    let t = search.trim();
    let phone_like = t.chars().filter(char::is_ascii_digit).count() >= 4
        && t.chars().all(|c| c.is_ascii_digit() || " -+".contains(c))
        && (t.starts_with('0') || t.starts_with('+') || t.starts_with("254"));
    if phone_like {
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let number = match digits.strip_prefix('0') {
            Some(rest) => format!("254{rest}"),
            None => digits,
        };
        return Some(format!("\"{number}\"*"));
    }
    let words: Vec<String> = search
        .split_whitespace()
        .map(|w| {
            let w = if w.len() >= 2 && w.starts_with('0') && w.bytes().all(|b| b.is_ascii_digit()) {
                format!("254{}", &w[1..])
            } else if let Some(rest) = w.strip_prefix('+') {
                rest.to_owned()
            } else {
                w.to_owned()
            };
            format!("\"{}\"*", w.replace('"', "\"\""))
        })
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

impl Store {
    /// Records a new payment as `pending` with the office's next transaction number.
    /// A reference that is already taken gives [`StoreError::Duplicate`]; draw another.
    pub async fn insert_transaction(
        &self,
        actor: &str,
        new: &NewTransaction,
        now: OffsetDateTime,
    ) -> Result<TransactionRecord> {
        let mut tx = self.begin_write().await?;
        let seq = next_in_sequence(&mut tx, &format!("tx:{}", new.desk)).await?;
        let number = TxNumber::new(new.desk.clone(), seq).to_string();
        let id: i64 = sqlx::query(
            "INSERT INTO transactions
               (number, reference, policy_id, method, status, amount_minor, currency, phone, email,
                clerk_id, created_at, updated_at, day)
             VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&number)
        .bind(new.reference.as_str())
        .bind(new.policy_id)
        .bind(new.method.as_str())
        .bind(new.amount.minor())
        .bind(new.amount.currency().code())
        .bind(new.phone.as_ref().map(Msisdn::as_str))
        .bind(new.email.as_ref().map(Email::as_str))
        .bind(new.clerk_id)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .bind(day_number(nairobi_date(now)))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, || format!("reference {}", new.reference)))?
        .get("id");
        let record = fetch(&mut tx, &TxKey::Id(id)).await?;
        let change = Change {
            actor,
            action: "transaction.create",
            entity: "transaction",
            entity_id: number,
            before: None,
            after: Some(snapshot(&record)),
        };
        audit::record(&mut tx, now, change).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn transaction(&self, key: &TxKey) -> Result<TransactionRecord> {
        let mut conn = self.pool.acquire().await?;
        fetch(&mut conn, key).await
    }

    /// The open payments with this provider reference (CheckoutRequestID or Paystack
    /// reference), for matching callbacks.
    pub async fn transaction_by_provider_ref(
        &self,
        provider_ref: &str,
    ) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.provider_ref = ?"
        )))
        .bind(provider_ref)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// The payment whose provider receipt (the M-Pesa receipt number) is `receipt`.
    pub async fn transaction_by_receipt(&self, receipt: &str) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.provider_receipt = ? LIMIT 1"
        )))
        .bind(receipt)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// Applies a provider event through the state machine. When the payment moves, its new
    /// status, the provider's details, a receipt number on first success and the audit line
    /// are written together; when it does not, nothing is written.
    pub async fn apply_event(
        &self,
        actor: &str,
        key: &TxKey,
        office: &Desk,
        event: TxEvent,
        details: &ProviderDetails,
        now: OffsetDateTime,
    ) -> Result<(TransactionRecord, Outcome)> {
        let mut tx = self.begin_write().await?;
        let applied = apply_in(&mut tx, actor, key, office, event, details, now).await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// The newest payment by `method` for this policy, phone and amount since `since` that
    /// is still open or went through: a second prompt for it would likely charge twice.
    pub async fn recent_similar(
        &self,
        policy_id: i64,
        method: Method,
        phone_or_email: &str,
        amount: Money,
        since: OffsetDateTime,
    ) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.policy_id = ? AND t.method = ? AND coalesce(t.phone, t.email, '') = ?
               AND t.amount_minor = ? AND t.currency = ? AND t.created_at >= ?
               AND t.status IN ('pending', 'awaiting_customer', 'succeeded', 'needs_review')
             ORDER BY t.created_at DESC LIMIT 1"
        )))
        .bind(policy_id)
        .bind(method.as_str())
        .bind(phone_or_email)
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(to_ms(since))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// A payment for `policy_id` of `amount` still open (pending or waiting for the customer),
    /// made since `since`, by any provider: one that may yet be paid.
    pub async fn open_payment_for(
        &self,
        policy_id: i64,
        amount: Money,
        since: OffsetDateTime,
    ) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.policy_id = ? AND t.amount_minor = ? AND t.currency = ?
               AND t.status IN ('pending', 'awaiting_customer') AND t.created_at >= ?
             ORDER BY t.created_at DESC LIMIT 1"
        )))
        .bind(policy_id)
        .bind(amount.minor())
        .bind(amount.currency().code())
        .bind(to_ms(since))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// Any payment for `policy_id` that may yet be paid: pending, waiting for the customer, or a
    /// bank slip waiting for a manager's confirmation.
    pub async fn unsettled_payment_of(&self, policy_id: i64) -> Result<Option<TransactionRecord>> {
        let row = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.policy_id = ?
               AND t.status IN ('pending', 'awaiting_customer', 'awaiting_confirmation')
             ORDER BY t.created_at DESC LIMIT 1"
        )))
        .bind(policy_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tx_from_row).transpose()
    }

    /// How many payments `clerk_id` started since `since`.
    pub async fn started_by(&self, clerk_id: Option<i64>, since: OffsetDateTime) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT count(*) AS n FROM transactions WHERE clerk_id IS ? AND created_at >= ?",
        )
        .bind(clerk_id)
        .bind(to_ms(since))
        .fetch_one(&self.pool)
        .await?
        .get("n"))
    }

    /// Open payments last changed before `before`, oldest first: the ones to ask about.
    pub async fn open_transactions(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TransactionRecord>> {
        let rows = sqlx::query(AssertSql::of(&format!(
            "{SELECT_TX} WHERE t.status IN ('pending', 'awaiting_customer') AND t.updated_at < ?
             ORDER BY t.updated_at LIMIT ?"
        )))
        .bind(to_ms(before))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(tx_from_row).collect()
    }

    /// One page of history, newest first, and how many payments match in all.
    pub async fn transactions(&self, filter: &TxFilter) -> Result<Page<TransactionRecord>> {
        let per_page = filter.per_page.clamp(1, 500);
        let page = filter.page.max(1);
        let search = filter.search.as_deref().and_then(fts_query);
        let offset = if filter.after.is_none() {
            i64::from(page - 1) * i64::from(per_page)
        } else {
            0
        };

        // A search matching few payments visits only those; a broad one (a common name alone)
        // walks the date order and asks the full-text index for the matches among the rows it
        // reads, until the page is full: for a name on one payment in twelve, some hundreds of
        // rows rather than every match.
        let matched = match search {
            Some(fts) => {
                let matches = self.search_matches(&fts).await?;
                Some((fts, matches))
            }
            None => None,
        };
        let items = match &matched {
            Some((fts, Matches::Many(newest))) => {
                let page_ids = self
                    .walk_matches(filter, fts, newest, offset, per_page)
                    .await?;
                let mut q = ids_query(&page_ids);
                q.push(" ORDER BY t.created_at DESC, t.id DESC");
                q.build().fetch_all(&self.pool).await?
            }
            _ => {
                let mut q = match &matched {
                    Some((_, Matches::Few(ids))) => ids_query(ids),
                    _ => QueryBuilder::new(SELECT_TX),
                };
                push_filters(&mut q, filter, None);
                push_after(&mut q, filter.after);
                q.push(" ORDER BY t.created_at DESC, t.id DESC LIMIT ")
                    .push_bind(per_page);
                if filter.after.is_none() {
                    q.push(" OFFSET ").push_bind(offset);
                }
                q.build().fetch_all(&self.pool).await?
            }
        };
        let items = items.iter().map(tx_from_row).collect::<Result<Vec<_>>>()?;
        let next = items
            .last()
            .filter(|_| items.len() == per_page as usize)
            .map(|t| (to_ms(t.created_at), t.id));

        let total = match &matched {
            None if filter.policy_id.is_none() => {
                // Day-granular filters are answered exactly by the per-day totals.
                self.count_from_totals(filter).await?
            }
            None => {
                let mut c = QueryBuilder::new("SELECT count(*) AS n FROM transactions t");
                push_filters(&mut c, filter, None);
                c.build().fetch_one(&self.pool).await?.get("n")
            }
            // Every match is a payment: the index's answer is the count.
            Some((_, Matches::Few(ids))) if unfiltered(filter) => ids.len() as i64,
            Some((_, Matches::Few(ids))) => {
                let mut c = QueryBuilder::new("SELECT count(*) AS n FROM json_each(");
                c.push_bind(json_ids(ids))
                    .push(") j CROSS JOIN transactions t ON t.id = j.value");
                push_filters(&mut c, filter, None);
                c.build().fetch_one(&self.pool).await?.get("n")
            }
            Some((_, Matches::Many(newest))) if unfiltered(filter) => newest.len() as i64,
            Some((fts, Matches::Many(_))) => {
                let mut c = QueryBuilder::new(
                    "SELECT count(*) AS n FROM (SELECT 1 FROM tx_search CROSS JOIN transactions t ON t.id = tx_search.rowid",
                );
                push_filters(&mut c, filter, Some(fts));
                c.push(" LIMIT ").push_bind(BROAD_COUNT + 1).push(")");
                c.build().fetch_one(&self.pool).await?.get("n")
            }
        };
        let total_is_floor = total > BROAD_COUNT && matched.is_some();
        Ok(Page {
            items,
            total: if total_is_floor { BROAD_COUNT } else { total },
            total_is_floor,
            next,
        })
    }

    /// The payments the full-text query `fts` matches, by id ascending: the newest
    /// [`BROAD_COUNT`] and one more. One statement, because FTS5 gathers a prefix's matches
    /// afresh for each (some milliseconds for a common name), and as one text: a row per match
    /// through the driver costs ten times as much.
    async fn search_matches(&self, fts: &str) -> Result<Matches> {
        let ids = self
            .match_ids(
                "SELECT coalesce(group_concat(rowid, ','), '') FROM (SELECT rowid FROM tx_search
                 WHERE tx_search MATCH ? ORDER BY rowid DESC LIMIT ?)",
                fts,
                &[BROAD_COUNT + 1],
            )
            .await?;
        Ok(if ids.len() as i64 > NARROW_SEARCH {
            Matches::Many(ids)
        } else {
            Matches::Few(ids)
        })
    }

    /// The ids (sorted) that `sql`, given `fts` and then `binds`, gathers with `group_concat`.
    async fn match_ids(&self, sql: &'static str, fts: &str, binds: &[i64]) -> Result<Vec<i64>> {
        let mut q = sqlx::query_scalar(sql).bind(fts);
        for &b in binds {
            q = q.bind(b);
        }
        let text: String = q.fetch_one(&self.pool).await?;
        let mut ids = text
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|n| corrupt_unless(n.parse().ok(), n))
            .collect::<Result<Vec<i64>>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// The ids of the payments `filter` keeps that the full-text query `fts` matches, newest
    /// first: `skip` of them passed over, then at most `take`. `newest` is what
    /// [`Store::search_matches`] gathered. Walks the date order in growing chunks, so a dense
    /// match fills a page from the first chunk and a sparse one still ends. Payments are
    /// numbered as they are made, so the first pages find their matches among `newest`; a
    /// chunk reaching below those asks the index for its matches within the chunk's range of
    /// ids, never for a range already asked, so no walk reads more than every match once, even
    /// through history imported out of order.
    async fn walk_matches(
        &self,
        filter: &TxFilter,
        fts: &str,
        newest: &[i64],
        skip: i64,
        take: u32,
    ) -> Result<Vec<i64>> {
        const IN_RANGE: &str = "SELECT coalesce(group_concat(rowid, ','), '') FROM tx_search
             WHERE tx_search MATCH ? AND rowid >= ? AND rowid <= ?";
        let mut found = Vec::with_capacity(take as usize);
        let mut skipped = 0;
        let mut cursor = filter.after;
        let mut chunk: i64 = 1024;
        // Every match with an id from `known_from` up, ascending.
        let mut known = newest.to_vec();
        let mut known_from = match newest.first() {
            Some(&lowest) if newest.len() as i64 > BROAD_COUNT => lowest,
            _ => i64::MIN,
        };
        loop {
            let mut q = QueryBuilder::new(
                "SELECT coalesce(group_concat(t.created_at || ':' || t.id, ','), '')
                 FROM (SELECT t.created_at, t.id FROM transactions t",
            );
            push_filters(&mut q, filter, None);
            push_after(&mut q, cursor);
            q.push(" ORDER BY t.created_at DESC, t.id DESC LIMIT ")
                .push_bind(chunk)
                .push(") t");
            let text: String = q.build().fetch_one(&self.pool).await?.get(0);
            // The aggregate's order is SQLite's to choose: put the chunk back in date order.
            let mut rows = text
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    let parsed = pair
                        .split_once(':')
                        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)));
                    corrupt_unless(parsed, pair)
                })
                .collect::<Result<Vec<(i64, i64)>>>()?;
            rows.sort_unstable_by(|a, b| b.cmp(a));
            if let Some(lowest) = rows.iter().map(|r| r.1).min().filter(|&l| l < known_from) {
                let mut more = self
                    .match_ids(IN_RANGE, fts, &[lowest, known_from - 1])
                    .await?;
                more.append(&mut known);
                known = more;
                known_from = lowest;
            }
            for &(_, id) in &rows {
                if known.binary_search(&id).is_ok() {
                    if skipped < skip {
                        skipped += 1;
                    } else {
                        found.push(id);
                        if found.len() == take as usize {
                            return Ok(found);
                        }
                    }
                }
            }
            match rows.last() {
                Some(&last) if rows.len() as i64 == chunk => cursor = Some(last),
                _ => return Ok(found),
            }
            chunk = (chunk * 4).min(65_536);
        }
    }

    async fn count_from_totals(&self, filter: &TxFilter) -> Result<i64> {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("SELECT coalesce(sum(count), 0) AS n FROM daily_totals WHERE 1 = 1");
        if let Some(s) = filter.status {
            q.push(" AND status = ").push_bind(s.as_str());
        }
        if let Some(m) = filter.method {
            q.push(" AND method = ").push_bind(m.as_str());
        }
        if let Some(from) = filter.from {
            q.push(" AND day >= ").push_bind(day_number(from));
        }
        if let Some(to) = filter.to {
            q.push(" AND day <= ").push_bind(day_number(to));
        }
        Ok(q.build().fetch_one(&self.pool).await?.get("n"))
    }
}

fn unfiltered(f: &TxFilter) -> bool {
    f.status.is_none()
        && f.method.is_none()
        && f.from.is_none()
        && f.to.is_none()
        && f.policy_id.is_none()
}

/// Searches matching at most this many payments are fetched by id.
const NARROW_SEARCH: i64 = 2000;

/// What a search matches, by id ascending: every match, few enough to fetch by id; or more,
/// and the newest of them, up to [`BROAD_COUNT`] and one (every match when fewer).
enum Matches {
    Few(Vec<i64>),
    Many(Vec<i64>),
}

/// Appends the WHERE clause.
fn push_filters(q: &mut QueryBuilder<Sqlite>, filter: &TxFilter, search: Option<&str>) {
    q.push(" WHERE 1 = 1");
    if let Some(s) = filter.status {
        q.push(" AND t.status = ").push_bind(s.as_str());
    }
    if let Some(m) = filter.method {
        q.push(" AND t.method = ").push_bind(m.as_str());
    }
    if let Some(p) = filter.policy_id {
        q.push(" AND t.policy_id = ").push_bind(p);
    }
    if let Some(from) = filter.from {
        q.push(" AND t.created_at >= ")
            .push_bind(day_start_ms(from));
    }
    if let Some(to) = filter.to {
        let end = to.next_day().map_or(i64::MAX, day_start_ms);
        q.push(" AND t.created_at < ").push_bind(end);
    }
    if let Some(fts) = search {
        // The query starts from `tx_search`.
        q.push(" AND tx_search MATCH ").push_bind(fts.to_owned());
    }
}

/// Appends the keyset condition: rows after `after` in the date order, newest first.
fn push_after(q: &mut QueryBuilder<Sqlite>, after: Option<(i64, i64)>) {
    if let Some((at, id)) = after {
        q.push(" AND (t.created_at, t.id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
}

/// The payment query over `ids` (no WHERE yet).
fn ids_query(ids: &[i64]) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new("");
    // SELECT_TX_IDS begins with the JSON array's placeholder.
    q.push(SELECT_TX_IDS.split_once('?').map_or("", |(a, _)| a))
        .push_bind(json_ids(ids))
        .push(SELECT_TX_IDS.split_once('?').map_or("", |(_, b)| b));
    q
}

fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

/// `value` or, when the database gave something else than it keeps, a corruption error.
fn corrupt_unless<T>(value: Option<T>, seen: &str) -> Result<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("search walk: {seen:?}")))
}

/// Wraps SQL assembled from constants only.
/// The payment query with `clause` after `WHERE`.
pub(crate) fn select_tx_where(clause: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!("{SELECT_TX} WHERE {clause}"))
}

struct AssertSql;
impl AssertSql {
    fn of(sql: &str) -> sqlx::AssertSqlSafe<String> {
        sqlx::AssertSqlSafe(sql.to_owned())
    }
}

/// Applies `event` to the payment `key` inside the caller's write transaction (which commits):
/// the status change, its receipt number and its audit entry, or on an unchanged status the
/// details the provider told us that we lacked.
pub(crate) async fn apply_in(
    tx: &mut SqliteConnection,
    actor: &str,
    key: &TxKey,
    office: &Desk,
    event: TxEvent,
    details: &ProviderDetails,
    now: OffsetDateTime,
) -> Result<(TransactionRecord, Outcome)> {
    let before = fetch(&mut *tx, key).await?;
    let outcome = transaction::transition(before.status, before.method, before.amount, event, now)?;
    let Outcome::Moved { to, assign_receipt } = outcome else {
        // The status stands, but the provider may have told us something we lacked: the
        // M-Pesa receipt of a success first learnt from a query, or the checkout link.
        let paid_word = matches!(event, TxEvent::Paid { .. }) && before.status.is_paid();
        let fill = |have: &Option<String>, new: &Option<String>| have.is_none() && new.is_some();
        let missing = fill(&before.provider_ref, &details.provider_ref)
            || fill(&before.authorization_url, &details.authorization_url)
            || (paid_word
                && (fill(&before.provider_receipt, &details.provider_receipt)
                    || fill(&before.card_last4, &details.card_last4)
                    || fill(&before.channel, &details.channel)));
        if !missing {
            return Ok((before, outcome));
        }
        let kept = |v: &Option<String>| if paid_word { v.clone() } else { None };
        sqlx::query(
            "UPDATE transactions SET
               provider_ref = coalesce(provider_ref, ?),
               authorization_url = coalesce(authorization_url, ?),
               provider_receipt = coalesce(provider_receipt, ?),
               card_brand = coalesce(card_brand, ?),
               card_last4 = coalesce(card_last4, ?),
               channel = coalesce(channel, ?),
               instrument = coalesce(instrument, ?),
               updated_at = ?
             WHERE id = ?",
        )
        .bind(&details.provider_ref)
        .bind(&details.authorization_url)
        .bind(kept(&details.provider_receipt))
        .bind(kept(&details.card_brand))
        .bind(kept(&details.card_last4))
        .bind(kept(&details.channel))
        .bind(kept(&details.instrument))
        .bind(to_ms(now))
        .bind(before.id)
        .execute(&mut *tx)
        .await?;
        let after = audited(tx, actor, "transaction.details", &before, now).await?;
        return Ok((after, outcome));
    };
    let receipt = if assign_receipt {
        let seq = next_in_sequence(&mut *tx, &format!("receipt:{office}")).await?;
        Some(ReceiptNumber::new(office.clone(), seq).to_string())
    } else {
        None
    };
    let refunded_minor = match event {
        TxEvent::Refunded { refunded_total } => refunded_total.minor(),
        _ => before.refunded.minor(),
    };
    sqlx::query(
        "UPDATE transactions SET
           status = ?, refunded_minor = ?,
           provider_ref = coalesce(?, provider_ref),
           provider_receipt = coalesce(?, provider_receipt),
           failure_code = coalesce(?, failure_code),
           failure_reason = coalesce(?, failure_reason),
           authorization_url = coalesce(?, authorization_url),
           card_brand = coalesce(?, card_brand),
           card_last4 = coalesce(?, card_last4),
           channel = coalesce(?, channel),
           instrument = coalesce(?, instrument),
           receipt_number = coalesce(receipt_number, ?),
           updated_at = ?
         WHERE id = ?",
    )
    .bind(to.as_str())
    .bind(refunded_minor)
    .bind(&details.provider_ref)
    .bind(&details.provider_receipt)
    .bind(&details.failure_code)
    .bind(&details.failure_reason)
    .bind(&details.authorization_url)
    .bind(&details.card_brand)
    .bind(&details.card_last4)
    .bind(&details.channel)
    .bind(&details.instrument)
    .bind(&receipt)
    .bind(to_ms(now))
    .bind(before.id)
    .execute(&mut *tx)
    .await?;
    let after = audited(tx, actor, "transaction.status", &before, now).await?;
    Ok((after, outcome))
}

/// Reads the payment as it now stands and writes the audit line from `before` to it, in the
/// caller's transaction: the change and its audit line land together or not at all.
async fn audited(
    tx: &mut SqliteConnection,
    actor: &str,
    action: &str,
    before: &TransactionRecord,
    now: OffsetDateTime,
) -> Result<TransactionRecord> {
    let after = fetch(&mut *tx, &TxKey::Id(before.id)).await?;
    let change = Change {
        actor,
        action,
        entity: "transaction",
        entity_id: after.number.clone(),
        before: Some(snapshot(before)),
        after: Some(snapshot(&after)),
    };
    audit::record(&mut *tx, now, change).await?;
    Ok(after)
}

/// A payment no provider speaks for (cash, a cheque, a bank slip), as the counter records it.
pub(crate) struct CounterPayment<'a> {
    pub desk: &'a Desk,
    pub method: &'a str,
    /// `pending` (moved on at once by the caller) or `awaiting_confirmation`.
    pub status: &'a str,
    pub policy_id: i64,
    pub amount: Money,
    /// Cash: what was handed over.
    pub tendered: Option<Money>,
    pub reference: &'a ProviderReference,
    pub clerk_id: Option<i64>,
}

/// Inserts a counter payment with the desk's next number, audited, inside the caller's
/// transaction; the caller moves it on.
pub(crate) async fn insert_counter_payment(
    tx: &mut SqliteConnection,
    actor: &str,
    p: &CounterPayment<'_>,
    now: OffsetDateTime,
) -> Result<TransactionRecord> {
    let seq = next_in_sequence(&mut *tx, &format!("tx:{}", p.desk)).await?;
    let number = TxNumber::new(p.desk.clone(), seq).to_string();
    let id: i64 = sqlx::query(
        "INSERT INTO transactions
           (number, reference, policy_id, method, status, amount_minor, currency, tendered_minor,
            clerk_id, created_at, updated_at, day)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&number)
    .bind(p.reference.as_str())
    .bind(p.policy_id)
    .bind(p.method)
    .bind(p.status)
    .bind(p.amount.minor())
    .bind(p.amount.currency().code())
    .bind(p.tendered.map(Money::minor))
    .bind(p.clerk_id)
    .bind(to_ms(now))
    .bind(to_ms(now))
    .bind(day_number(nairobi_date(now)))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, || format!("reference {}", p.reference)))?
    .get("id");
    let created = fetch(&mut *tx, &TxKey::Id(id)).await?;
    audit::record(
        &mut *tx,
        now,
        Change {
            actor,
            action: "transaction.create",
            entity: "transaction",
            entity_id: number,
            before: None,
            after: Some(snapshot(&created)),
        },
    )
    .await?;
    Ok(created)
}

pub(crate) async fn fetch(conn: &mut SqliteConnection, key: &TxKey) -> Result<TransactionRecord> {
    let (clause, bind) = match key {
        TxKey::Id(id) => ("t.id = ?", id.to_string()),
        TxKey::Number(n) => ("t.number = ?", n.clone()),
        TxKey::Reference(r) => ("t.reference = ?", r.clone()),
        TxKey::ProviderRef(r) => ("t.provider_ref = ?", r.clone()),
    };
    let row = sqlx::query(AssertSql::of(&format!("{SELECT_TX} WHERE {clause}")))
        .bind(bind)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => tx_from_row(&r),
        None => Err(StoreError::NotFound(match key {
            TxKey::Id(id) => format!("transaction {id}"),
            TxKey::Number(n) => format!("transaction {n}"),
            TxKey::Reference(r) => format!("transaction with reference {r}"),
            TxKey::ProviderRef(r) => format!("transaction with provider reference {r}"),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_are_prefix_phrases_and_phones_go_international() {
        assert_eq!(fts_query("wanj"), Some("\"wanj\"*".into()));
        assert_eq!(
            fts_query("0712 NBI-0001"),
            Some("\"254712\"* \"NBI-0001\"*".into())
        );
        assert_eq!(fts_query("+254712"), Some("\"254712\"*".into()));
        assert_eq!(fts_query("a\"b"), Some("\"a\"\"b\"*".into()));
        assert_eq!(fts_query("   "), None);
    }

    #[test]
    fn day_numbers_count_from_the_epoch() {
        assert_eq!(day_number(time::macros::date!(1970 - 01 - 01)), 0);
        assert_eq!(day_number(time::macros::date!(1970 - 01 - 02)), 1);
        assert_eq!(date_from_day(20_419), time::macros::date!(2025 - 11 - 27));
    }
}

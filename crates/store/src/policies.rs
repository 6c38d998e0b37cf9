//! Policies, their holders and instalment schedules.

use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use time::{Date, OffsetDateTime, format_description::well_known::Iso8601};

use malipo_domain::schedule::{self, Instalment, InstalmentState, InstalmentStatus};
use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Currency, Email, Frequency, HolderName, Money, Msisdn, PolicyNumber};

use crate::audit::{self, Change};
use crate::{Result, Store, StoreError, parse_col, unique_violation};

/// A policy ready to be written, already parsed and checked.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub number: PolicyNumber,
    pub holder: HolderName,
    pub phone: Msisdn,
    pub email: Option<Email>,
    /// The amount due per instalment.
    pub premium: Money,
    pub frequency: Frequency,
    pub instalments: Vec<Instalment>,
}

#[derive(Debug, Clone)]
pub struct PolicyRecord {
    pub id: i64,
    pub number: String,
    pub holder: String,
    pub phone: String,
    pub email: Option<String>,
    pub premium: Money,
    pub frequency: Frequency,
    /// Active, lapsed or cancelled, as the company register says.
    pub status: malipo_domain::PolicyStatus,
    pub created_at: OffsetDateTime,
}

/// In which order policies are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyOrder {
    #[default]
    Number,
    /// Those with an instalment overdue first, longest overdue first; then the rest by number.
    OverdueFirst,
}

/// Which policies to list, and where their payments stand on `today`.
#[derive(Debug, Clone)]
pub struct PolicyFilter<'a> {
    pub search: Option<&'a str>,
    pub order: PolicyOrder,
    pub today: Date,
    pub limit: u32,
    pub offset: u32,
}

/// The first instalment not fully paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextDue {
    pub seq: u32,
    pub due: Date,
    /// What is left to pay of it.
    pub amount: Money,
}

/// A policy and where its payments stand: what the counter asks first.
#[derive(Debug, Clone)]
pub struct PolicyStanding {
    pub policy: PolicyRecord,
    /// Payments kept (succeeded, less refunds) in the policy's currency.
    pub paid_to_date: Money,
    /// `None` once every instalment is paid.
    pub next_due: Option<NextDue>,
    /// Due before today and not paid.
    pub overdue: Money,
    /// Days since the oldest unpaid instalment fell due; 0 when nothing is overdue.
    pub days_overdue: i64,
}

/// Which instalments to list, as they stand on `today`.
#[derive(Debug, Clone)]
pub struct ScheduleFilter {
    pub today: Date,
    pub status: Option<InstalmentStatus>,
    pub policy: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ScheduleLine {
    pub policy_number: String,
    pub holder: String,
    pub phone: String,
    pub state: InstalmentState,
}

pub(crate) fn money_from_row(r: &SqliteRow, amount: &str) -> Result<Money> {
    let currency: Currency = Currency::from_code(r.get::<&str, _>("currency"))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Money::from_minor(r.get(amount), currency).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn policy_from_row(r: &SqliteRow) -> Result<PolicyRecord> {
    Ok(PolicyRecord {
        id: r.get("id"),
        number: r.get("number"),
        holder: r.get("holder"),
        phone: r.get("phone"),
        email: r.get("email"),
        premium: money_from_row(r, "premium_minor")?,
        frequency: parse_col(r.get::<&str, _>("frequency"), "policies.frequency")?,
        status: parse_col(r.get::<&str, _>("status"), "policies.status")?,
        created_at: from_ms(r.get("created_at")),
    })
}

/// A phone number or part of one as clerks type it (`0712 345`, `+254 712`), in the stored
/// `254…` form; `None` when the text is not phone-like.
fn phone_fragment(text: &str) -> Option<String> {
    let t = text.trim();
    let phone_like = t.len() >= 3 && t.chars().all(|c| c.is_ascii_digit() || " -+".contains(c));
    if !phone_like {
        return None;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    Some(match digits.strip_prefix('0') {
        Some(rest) => format!("254{rest}"),
        None => digits,
    })
}

fn date_string(d: Date) -> String {
    d.to_string()
}

pub(crate) fn parse_date(s: &str) -> Result<Date> {
    Date::parse(s, &Iso8601::DATE).map_err(|_| StoreError::Corrupt(format!("date {s:?}")))
}

/// The expression `policies_account` indexes: a policy's number as an account key, as
/// [`malipo_domain::policy::account_key`] reduces an account typed at the paybill.
pub(crate) const ACCOUNT_KEY: &str = "upper(replace(replace(replace(replace(replace(replace(
    number, ' ', ''), '-', ''), '/', ''), '.', ''), '_', ''), '\\', ''))";

impl Store {
    /// Writes all the policies or none: one bad row (for example a number already taken)
    /// rolls the whole batch back and names the policy.
    pub async fn insert_policies(
        &self,
        actor: &str,
        policies: &[NewPolicy],
        now: OffsetDateTime,
    ) -> Result<Vec<i64>> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(policies.len());
        for p in policies {
            let id: i64 = sqlx::query(
                "INSERT INTO policies
                   (number, holder, phone, email, premium_minor, currency, frequency, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(p.number.as_str())
            .bind(p.holder.as_str())
            .bind(p.phone.as_str())
            .bind(p.email.as_ref().map(Email::as_str))
            .bind(p.premium.minor())
            .bind(p.premium.currency().code())
            .bind(p.frequency.as_str())
            .bind(to_ms(now))
            .bind(to_ms(now))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| unique_violation(e, || format!("policy {}", p.number)))?
            .get("id");
            for i in &p.instalments {
                sqlx::query(
                    "INSERT INTO instalments (policy_id, seq, due_date, amount_minor, currency)
                     VALUES (?, ?, ?, ?, ?)",
                )
                .bind(id)
                .bind(i.seq)
                .bind(date_string(i.due))
                .bind(i.amount.minor())
                .bind(i.amount.currency().code())
                .execute(&mut *tx)
                .await?;
            }
            let change = Change {
                actor,
                action: "policy.add",
                entity: "policy",
                entity_id: p.number.to_string(),
                before: None,
                after: Some(json!({
                    "holder": p.holder.as_str(),
                    "phone": p.phone.as_str(),
                    "email": p.email.as_ref().map(Email::as_str),
                    "premium_minor": p.premium.minor(),
                    "currency": p.premium.currency().code(),
                    "frequency": p.frequency.as_str(),
                    "instalments": p.instalments.len(),
                })),
            };
            audit::record(&mut tx, now, change).await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    pub async fn policy(&self, number: &str) -> Result<Option<PolicyRecord>> {
        let row = sqlx::query("SELECT * FROM policies WHERE number = ?")
            .bind(number.trim().to_ascii_uppercase())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(policy_from_row).transpose()
    }

    /// Every policy the register holds in `status`, by number.
    pub async fn policies_in_status(
        &self,
        status: malipo_domain::PolicyStatus,
    ) -> Result<Vec<PolicyRecord>> {
        let rows = sqlx::query("SELECT * FROM policies WHERE status = ? ORDER BY number")
            .bind(status.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(policy_from_row).collect()
    }

    /// Whether this counter has dealt with policy `policy_id`'s lapse for the instalment due
    /// `due` (marked it in the register, or found another counter had).
    pub async fn lapse_marked(&self, policy_id: i64, due: Date) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM lapse_marks WHERE policy_id = ? AND due_date = ?")
                .bind(policy_id)
                .bind(due.to_string())
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Whether this counter ever dealt with a lapse of policy `policy_id` for its premiums.
    pub async fn ever_lapsed(&self, policy_id: i64) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 FROM lapse_marks WHERE policy_id = ? LIMIT 1")
                .bind(policy_id)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// Records that policy `policy_id`'s lapse for the instalment due `due` was dealt with:
    /// `marked` here, or `elsewhere`.
    pub async fn mark_lapse(
        &self,
        policy_id: i64,
        due: Date,
        outcome: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO lapse_marks (policy_id, due_date, outcome, at) VALUES (?, ?, ?, ?)
             ON CONFLICT (policy_id, due_date) DO NOTHING",
        )
        .bind(policy_id)
        .bind(due.to_string())
        .bind(outcome)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which of `numbers` already exist, for reporting an import before writing it.
    pub async fn existing_policy_numbers(&self, numbers: &[&str]) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for chunk in numbers.chunks(500) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("SELECT number FROM policies WHERE number IN (");
            let mut sep = q.separated(", ");
            for n in chunk {
                sep.push_bind(*n);
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                found.push(r.get("number"));
            }
        }
        Ok(found)
    }

    /// Policies whose number, holder or phone contains `search` (all when `None`), each with
    /// where its payments stand on `filter.today`, in the order asked for.
    pub async fn policies(&self, filter: &PolicyFilter<'_>) -> Result<(Vec<PolicyStanding>, i64)> {
        let search = filter.search;
        let pattern = search.map(|s| format!("%{}%", s.trim().replace(['%', '_'], "")));
        let phone = search.and_then(phone_fragment).map(|p| format!("%{p}%"));
        // A number as a customer types it at the paybill (`pol 1004` is POL-1004).
        let account = search
            .map(malipo_domain::policy::account_key)
            .filter(|k| !k.is_empty());
        let matching = format!(
            "(?1 IS NULL OR number LIKE ?1 OR holder LIKE ?1 OR phone LIKE coalesce(?2, ?1)
              OR {} = ?6)",
            ACCOUNT_KEY
        );
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM policies WHERE {matching}"
        )))
        .bind(&pattern)
        .bind(&phone)
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<String>)
        .bind(&account)
        .fetch_one(&self.pool)
        .await?
        .get("n");
        // By number, the page is cut before the standings are worked out; overdue first needs
        // every match's standing to sort by.
        let (page, order) = match filter.order {
            PolicyOrder::Number => ("ORDER BY number LIMIT ?3 OFFSET ?4", "m.number"),
            PolicyOrder::OverdueFirst => (
                "",
                "coalesce(u.due_date < ?5, 0) DESC,
                 CASE WHEN u.due_date < ?5 THEN u.due_date END, m.number
                 LIMIT ?3 OFFSET ?4",
            ),
        };
        // Payments kept (succeeded, less refunds) fill the instalments in due order, as in
        // `schedule::states`: the first instalment the running total of dues passes what was
        // paid is the next one due, and whatever is due before today and not covered is overdue.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH matched AS (SELECT * FROM policies WHERE {matching} {page}),
             kept AS (
               SELECT m.id, coalesce((SELECT sum(t.amount_minor - t.refunded_minor)
                                      FROM policy_payments t
                                      WHERE t.policy_number = m.number AND t.currency = m.currency
                                        AND t.status IN ('succeeded', 'partially_refunded')), 0)
                            AS paid
               FROM matched m),
             runs AS (
               SELECT i.policy_id, i.seq, i.due_date, i.amount_minor,
                      sum(i.amount_minor) OVER (PARTITION BY i.policy_id ORDER BY i.due_date, i.seq
                                                ROWS UNBOUNDED PRECEDING) AS through
               FROM instalments i JOIN matched m ON m.id = i.policy_id),
             unpaid AS (
               SELECT r.policy_id, r.seq, r.due_date, min(r.amount_minor, r.through - k.paid) AS owed,
                      row_number() OVER (PARTITION BY r.policy_id ORDER BY r.due_date, r.seq) AS n
               FROM runs r JOIN kept k ON k.id = r.policy_id
               WHERE r.through > k.paid),
             due AS (
               SELECT policy_id, max(through) AS through FROM runs WHERE due_date < ?5
               GROUP BY policy_id)
             SELECT m.*, k.paid, u.seq AS next_seq, u.due_date AS next_due, u.owed AS next_owed,
                    max(coalesce(d.through, 0) - k.paid, 0) AS overdue_minor
             FROM matched m JOIN kept k ON k.id = m.id
             LEFT JOIN unpaid u ON u.policy_id = m.id AND u.n = 1
             LEFT JOIN due d ON d.policy_id = m.id
             ORDER BY {order}"
        )))
        .bind(&pattern)
        .bind(&phone)
        .bind(filter.limit)
        .bind(filter.offset)
        .bind(date_string(filter.today))
        .bind(&account)
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                let next_due = match r.get::<Option<&str>, _>("next_due") {
                    None => None,
                    Some(due) => Some(NextDue {
                        seq: r.get::<u32, _>("next_seq"),
                        due: parse_date(due)?,
                        amount: money_from_row(r, "next_owed")?,
                    }),
                };
                let days_overdue = match &next_due {
                    Some(n) if n.due < filter.today => (filter.today - n.due).whole_days(),
                    _ => 0,
                };
                Ok(PolicyStanding {
                    policy: policy_from_row(r)?,
                    paid_to_date: money_from_row(r, "paid")?,
                    next_due,
                    overdue: money_from_row(r, "overdue_minor")?,
                    days_overdue,
                })
            })
            .collect::<Result<_>>()?;
        Ok((items, total))
    }

    pub async fn instalments(&self, policy_id: i64) -> Result<Vec<Instalment>> {
        let rows = sqlx::query("SELECT * FROM instalments WHERE policy_id = ? ORDER BY seq")
            .bind(policy_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Instalment {
                    seq: r.get::<u32, _>("seq"),
                    due: parse_date(r.get("due_date"))?,
                    amount: money_from_row(r, "amount_minor")?,
                })
            })
            .collect()
    }

    /// What is kept of this policy's payments in `currency` (succeeded, less refunds) at any
    /// counter of the company: what fills its instalments.
    pub async fn policy_paid(&self, number: &str, currency: Currency) -> Result<Money> {
        let row = sqlx::query(
            "SELECT coalesce(sum(amount_minor - refunded_minor), 0) AS paid, ?1 AS currency
             FROM policy_payments
             WHERE policy_number = ?2 AND currency = ?1
               AND status IN ('succeeded', 'partially_refunded')",
        )
        .bind(currency.code())
        .bind(number.trim().to_ascii_uppercase())
        .fetch_one(&self.pool)
        .await?;
        money_from_row(&row, "paid")
    }

    /// Instalments as they stand on `filter.today`: payments kept (succeeded, less refunds) at
    /// any counter of the company fill each policy's instalments in due order. The allocation
    /// depends only on which payments are kept, not on the order they arrived in, so every
    /// counter holding the same payments shows the same instalments.
    pub async fn schedule(&self, filter: &ScheduleFilter) -> Result<Vec<ScheduleLine>> {
        let policy = filter
            .policy
            .as_ref()
            .map(|p| p.trim().to_ascii_uppercase());
        // Only policies with an unpaid instalment due on or before the horizon matter for the
        // overdue list; for pending and all, every policy with instalments.
        let rows = sqlx::query(
            "SELECT p.id, p.number, p.holder, p.phone, i.seq, i.due_date, i.amount_minor, i.currency,
                    coalesce((SELECT sum(t.amount_minor - t.refunded_minor) FROM policy_payments t
                              WHERE t.policy_number = p.number AND t.currency = i.currency
                                AND t.status IN ('succeeded', 'partially_refunded')), 0) AS paid
             FROM policies p JOIN instalments i ON i.policy_id = p.id
             WHERE (?1 IS NULL OR p.number = ?1)
             ORDER BY p.number, i.due_date, i.seq",
        )
        .bind(&policy)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (first, states) in policy_states(&rows, filter.today)? {
            for state in states {
                if filter.status.is_none_or(|s| s == state.status) {
                    out.push(ScheduleLine {
                        policy_number: first.get("number"),
                        holder: first.get("holder"),
                        phone: first.get("phone"),
                        state,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Rows of instalments ordered by policy (`id`, `seq`, `due_date`, `amount_minor`, `currency`,
/// and the policy's `paid` on each), as each policy's first row and its instalments' states on
/// `today`.
pub(crate) fn policy_states(
    rows: &[SqliteRow],
    today: Date,
) -> Result<Vec<(&SqliteRow, Vec<InstalmentState>)>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let id: i64 = rows[i].get("id");
        let start = i;
        while i < rows.len() && rows[i].get::<i64, _>("id") == id {
            i += 1;
        }
        let group = &rows[start..i];
        let instalments = group
            .iter()
            .map(|r| {
                Ok(Instalment {
                    seq: r.get::<u32, _>("seq"),
                    due: parse_date(r.get("due_date"))?,
                    amount: money_from_row(r, "amount_minor")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let first = &group[0];
        let paid = money_from_row(first, "paid")?;
        let states = schedule::states(&instalments, paid, today)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        out.push((first, states));
    }
    Ok(out)
}

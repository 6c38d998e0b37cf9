//! Payment summaries for managers, read from the per-day totals the triggers keep.

use std::collections::BTreeMap;

use sqlx::{QueryBuilder, Row, Sqlite};
use time::Date;

use malipo_domain::{Currency, Method, Money, MoneyError, TxStatus};

use crate::transactions::{date_from_day, day_number};
use crate::{Result, Store, StoreError, parse_col};

/// Dates are Nairobi days, both ends included; one currency at a time, because shillings and
/// naira do not add up.
#[derive(Debug, Clone)]
pub struct SummaryFilter {
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub currency: Currency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub count: i64,
    pub amount: Money,
}

impl Totals {
    fn zero(currency: Currency) -> Totals {
        Totals {
            count: 0,
            amount: Money::zero(currency),
        }
    }

    fn add(&mut self, count: i64, minor: i64) -> Result<()> {
        let more = Money::from_minor(minor, self.amount.currency()).map_err(corrupt)?;
        self.count += count;
        self.amount = self.amount.checked_add(more).map_err(corrupt)?;
        Ok(())
    }
}

fn corrupt(e: MoneyError) -> StoreError {
    StoreError::Corrupt(format!("totals: {e}"))
}

/// Money collected (succeeded, including refunded since) and attempted (every payment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub collected: Totals,
    pub attempted: Totals,
}

impl Split {
    fn zero(currency: Currency) -> Split {
        Split {
            collected: Totals::zero(currency),
            attempted: Totals::zero(currency),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    pub date: Date,
    pub figures: Split,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub currency: Currency,
    pub all: Totals,
    /// Money received: succeeded, partially refunded and refunded payments.
    pub succeeded: Totals,
    /// Money given back on the payments of these days: how many payments, and how much.
    pub refunded: Totals,
    /// Waiting on the provider or the customer.
    pub pending: Totals,
    /// Did not go through: failed, cancelled, timed out.
    pub failed: Totals,
    pub needs_review: Totals,
    pub by_status: Vec<(TxStatus, Totals)>,
    pub by_method: Vec<(Method, Split)>,
    pub by_day: Vec<DayTotals>,
    /// By clerk id (0 when none was signed in).
    pub by_clerk: Vec<(i64, Split)>,
}

const RECEIVED: &str = "('succeeded', 'partially_refunded', 'refunded')";

impl Store {
    /// The summary from the per-day totals: a few rows per day, however many payments.
    pub async fn summary(&self, filter: &SummaryFilter) -> Result<Summary> {
        self.summarise(
            ["daily_totals", "daily_totals", "clerk_totals"],
            "count",
            "received = 1",
            filter,
        )
        .await
    }

    /// The same summary computed by scanning every payment. Kept to check the per-day totals
    /// against, and as the benchmark's baseline.
    pub async fn summary_by_scan(&self, filter: &SummaryFilter) -> Result<Summary> {
        self.summarise(
            ["transactions", "transactions", "transactions"],
            "1",
            &format!("status IN {RECEIVED}"),
            filter,
        )
        .await
    }

    /// Three grouped reads: by status and method, by day, and by clerk. `count` is the
    /// per-row count (a column, or `1` when scanning payments); `clerk_received` tells the
    /// clerk source's rows of money received.
    async fn summarise(
        &self,
        [kinds, days, clerks]: [&str; 3],
        count: &str,
        clerk_received: &str,
        filter: &SummaryFilter,
    ) -> Result<Summary> {
        let grouped = |table: &str, select: &str, group: &str| {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("SELECT {select} FROM {table} WHERE currency = "));
            q.push_bind(filter.currency.code());
            if let Some(from) = filter.from {
                q.push(" AND day >= ").push_bind(day_number(from));
            }
            if let Some(to) = filter.to {
                q.push(" AND day <= ").push_bind(day_number(to));
            }
            q.push(format!(" GROUP BY {group} ORDER BY {group}"));
            q
        };
        let totals = format!("sum({count}) AS n, sum(amount_minor) AS minor");
        let kept = format!(
            "sum(CASE WHEN status IN {RECEIVED} THEN {count} ELSE 0 END) AS rn,
             sum(CASE WHEN status IN {RECEIVED} THEN amount_minor ELSE 0 END) AS rminor"
        );
        let by_kind = grouped(
            kinds,
            &format!("status, method, {totals}"),
            "status, method",
        )
        .build()
        .fetch_all(&self.pool)
        .await?;
        let by_day = grouped(days, &format!("day, {totals}, {kept}"), "day")
            .build()
            .fetch_all(&self.pool)
            .await?;
        let clerk_kept = format!(
            "sum(CASE WHEN {clerk_received} THEN {count} ELSE 0 END) AS rn,
             sum(CASE WHEN {clerk_received} THEN amount_minor ELSE 0 END) AS rminor"
        );
        let by_clerk = grouped(
            clerks,
            &format!("coalesce(clerk_id, 0) AS clerk, {totals}, {clerk_kept}"),
            "clerk",
        )
        .build()
        .fetch_all(&self.pool)
        .await?;

        let mut refunds: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT count(*) AS n, coalesce(sum(refunded_minor), 0) AS minor FROM transactions
             WHERE refunded_minor > 0 AND currency = ",
        );
        refunds.push_bind(filter.currency.code());
        if let Some(from) = filter.from {
            refunds.push(" AND day >= ").push_bind(day_number(from));
        }
        if let Some(to) = filter.to {
            refunds.push(" AND day <= ").push_bind(day_number(to));
        }
        let refunded = refunds.build().fetch_one(&self.pool).await?;

        let zero = Totals::zero(filter.currency);
        let mut s = Summary {
            currency: filter.currency,
            all: zero,
            succeeded: zero,
            refunded: zero,
            pending: zero,
            failed: zero,
            needs_review: zero,
            by_status: Vec::new(),
            by_method: Vec::new(),
            by_day: Vec::new(),
            by_clerk: Vec::new(),
        };
        let mut by_status: BTreeMap<&'static str, (TxStatus, Totals)> = BTreeMap::new();
        let mut by_method: BTreeMap<&'static str, (Method, Split)> = BTreeMap::new();
        let split = Split::zero(filter.currency);
        for r in &by_kind {
            let (n, minor): (i64, i64) = (r.get("n"), r.get("minor"));
            if n == 0 {
                continue;
            }
            let status: TxStatus = parse_col(r.get::<&str, _>("status"), "status")?;
            let method: Method = parse_col(r.get::<&str, _>("method"), "method")?;
            s.all.add(n, minor)?;
            let bucket = match status {
                TxStatus::Succeeded | TxStatus::PartiallyRefunded | TxStatus::Refunded => {
                    &mut s.succeeded
                }
                // A bank slip waits for a person as an open payment waits for a provider.
                TxStatus::Pending | TxStatus::AwaitingCustomer | TxStatus::AwaitingConfirmation => {
                    &mut s.pending
                }
                TxStatus::Failed | TxStatus::Cancelled | TxStatus::TimedOut | TxStatus::Bounced => {
                    &mut s.failed
                }
                TxStatus::NeedsReview => &mut s.needs_review,
            };
            bucket.add(n, minor)?;
            by_status
                .entry(status.as_str())
                .or_insert((status, zero))
                .1
                .add(n, minor)?;
            let m = &mut by_method
                .entry(method.as_str())
                .or_insert((method, split))
                .1;
            m.attempted.add(n, minor)?;
            if status.is_paid() || status == TxStatus::Refunded {
                m.collected.add(n, minor)?;
            }
        }
        s.refunded.add(refunded.get("n"), refunded.get("minor"))?;
        s.by_status = by_status.into_values().collect();
        s.by_method = by_method.into_values().collect();
        for r in &by_day {
            let (n, minor, rn, rminor): (i64, i64, i64, i64) =
                (r.get("n"), r.get("minor"), r.get("rn"), r.get("rminor"));
            if n == 0 {
                continue;
            }
            let mut day = DayTotals {
                date: date_from_day(r.get("day")),
                figures: split,
            };
            day.figures.attempted.add(n, minor)?;
            day.figures.collected.add(rn, rminor)?;
            s.by_day.push(day);
        }
        for r in &by_clerk {
            let (n, minor, rn, rminor): (i64, i64, i64, i64) =
                (r.get("n"), r.get("minor"), r.get("rn"), r.get("rminor"));
            if n == 0 {
                continue;
            }
            let mut figures = split;
            figures.attempted.add(n, minor)?;
            figures.collected.add(rn, rminor)?;
            s.by_clerk.push((r.get("clerk"), figures));
        }
        Ok(s)
    }
}

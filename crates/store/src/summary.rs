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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    pub date: Date,
    pub all: Totals,
    pub succeeded: Totals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub currency: Currency,
    pub all: Totals,
    /// Money received: succeeded, partially refunded and refunded payments.
    pub succeeded: Totals,
    /// Waiting on the provider or the customer.
    pub pending: Totals,
    /// Did not go through: failed, cancelled, timed out.
    pub failed: Totals,
    pub needs_review: Totals,
    pub by_status: Vec<(TxStatus, Totals)>,
    pub by_method: Vec<(Method, Totals)>,
    pub by_day: Vec<DayTotals>,
    /// By clerk id (0 when none was signed in), then count.
    pub by_clerk: Vec<(i64, Totals)>,
}

struct Cell {
    day: i64,
    method: Method,
    status: TxStatus,
    clerk: i64,
    count: i64,
    minor: i64,
}

impl Store {
    /// The summary from `daily_totals`: a few rows per day, however many payments there are.
    pub async fn summary(&self, filter: &SummaryFilter) -> Result<Summary> {
        let cells = self
            .cells("daily_totals", "count", "amount_minor", filter)
            .await?;
        fold(filter.currency, cells)
    }

    /// The same summary computed by scanning every payment. Kept to check the per-day totals
    /// against, and as the benchmark's baseline.
    pub async fn summary_by_scan(&self, filter: &SummaryFilter) -> Result<Summary> {
        let cells = self
            .cells("transactions", "1", "amount_minor", filter)
            .await?;
        fold(filter.currency, cells)
    }

    async fn cells(
        &self,
        table: &str,
        count: &str,
        amount: &str,
        filter: &SummaryFilter,
    ) -> Result<Vec<Cell>> {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT day, method, status, coalesce(clerk_id, 0) AS clerk,
                    sum({count}) AS n, sum({amount}) AS minor
             FROM {table} WHERE currency = "
        ));
        q.push_bind(filter.currency.code());
        if let Some(from) = filter.from {
            q.push(" AND day >= ").push_bind(day_number(from));
        }
        if let Some(to) = filter.to {
            q.push(" AND day <= ").push_bind(day_number(to));
        }
        q.push(" GROUP BY day, method, status, clerk");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(Cell {
                    day: r.get("day"),
                    method: parse_col(r.get::<&str, _>("method"), "method")?,
                    status: parse_col(r.get::<&str, _>("status"), "status")?,
                    clerk: r.get("clerk"),
                    count: r.get("n"),
                    minor: r.get("minor"),
                })
            })
            .collect()
    }
}

fn fold(currency: Currency, cells: Vec<Cell>) -> Result<Summary> {
    let zero = Totals::zero(currency);
    let mut s = Summary {
        currency,
        all: zero,
        succeeded: zero,
        pending: zero,
        failed: zero,
        needs_review: zero,
        by_status: Vec::new(),
        by_method: Vec::new(),
        by_day: Vec::new(),
        by_clerk: Vec::new(),
    };
    let mut by_status: BTreeMap<&'static str, (TxStatus, Totals)> = BTreeMap::new();
    let mut by_method: BTreeMap<&'static str, (Method, Totals)> = BTreeMap::new();
    let mut by_day: BTreeMap<i64, DayTotals> = BTreeMap::new();
    let mut by_clerk: BTreeMap<i64, Totals> = BTreeMap::new();
    for c in cells.into_iter().filter(|c| c.count != 0) {
        s.all.add(c.count, c.minor)?;
        let received = matches!(
            c.status,
            TxStatus::Succeeded | TxStatus::PartiallyRefunded | TxStatus::Refunded
        );
        if received {
            s.succeeded.add(c.count, c.minor)?;
        } else if c.status.is_open() {
            s.pending.add(c.count, c.minor)?;
        } else if c.status.is_unsuccessful() {
            s.failed.add(c.count, c.minor)?;
        } else {
            s.needs_review.add(c.count, c.minor)?;
        }
        by_status
            .entry(c.status.as_str())
            .or_insert((c.status, zero))
            .1
            .add(c.count, c.minor)?;
        by_method
            .entry(c.method.as_str())
            .or_insert((c.method, zero))
            .1
            .add(c.count, c.minor)?;
        let day = by_day.entry(c.day).or_insert(DayTotals {
            date: date_from_day(c.day),
            all: zero,
            succeeded: zero,
        });
        day.all.add(c.count, c.minor)?;
        if received {
            day.succeeded.add(c.count, c.minor)?;
        }
        by_clerk
            .entry(c.clerk)
            .or_insert(zero)
            .add(c.count, c.minor)?;
    }
    s.by_status = by_status.into_values().collect();
    s.by_method = by_method.into_values().collect();
    s.by_day = by_day.into_values().collect();
    s.by_clerk = by_clerk.into_iter().collect();
    Ok(s)
}

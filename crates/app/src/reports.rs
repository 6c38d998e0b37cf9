//! History, summaries, schedules, the audit log and office settings.

use std::collections::HashMap;

use malipo_domain::schedule::InstalmentStatus;
use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Currency, Method, Money, OfficeCode, TxStatus};
use malipo_store::{CompanyFilter, ScheduleFilter, SummaryFilter, TxFilter, TxKey};

use crate::input::parse_date;
use crate::settings::table;
use crate::views::{AuditView, DashboardView, InstalmentView, List, SummaryView, TransactionView};
use crate::{Actor, App, Error, Result};

/// A cell a spreadsheet will not run as a formula: text that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return (a policy holder named `=HYPERLINK(…)`, a provider's message) is
/// kept as text behind a leading apostrophe.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// History filters as typed; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub status: Option<String>,
    pub method: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub search: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
    /// Walk forward: the page after this `next` of the page before (then `page` is ignored).
    pub after: Option<String>,
}

/// Which of the company's payments to list; every field optional.
#[derive(Debug, Clone, Default)]
pub struct CompanyQuery {
    /// One branch (office code); a clerk always sees their own.
    pub office: Option<String>,
    pub status: Option<String>,
    pub policy: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct SummaryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub currency: Option<String>,
    /// The company view of one branch (office code) only.
    pub office: Option<String>,
}

/// Which instalments: `pending`, `overdue` or all, for one policy or all, as of a date.
#[derive(Debug, Clone, Default)]
pub struct ScheduleQuery {
    pub status: Option<InstalmentStatus>,
    pub policy: Option<String>,
    pub date: Option<String>,
}

fn opt_date(field: &str, text: Option<&str>) -> Result<Option<time::Date>> {
    text.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_date(field, s))
        .transpose()
}

fn check_range(from: Option<time::Date>, to: Option<time::Date>) -> Result<()> {
    match (from, to) {
        (Some(f), Some(t)) if f > t => Err(Error::invalid(
            "dates",
            format!("the start date {f} is after the end date {t}; swap them"),
        )),
        _ => Ok(()),
    }
}

impl App {
    pub async fn history(&self, actor: &Actor, q: &HistoryQuery) -> Result<List<TransactionView>> {
        actor.require(Action::Read)?;
        self.payments_page(q).await
    }

    /// [`App::history`] for a service that has checked its own caller.
    pub(crate) async fn payments_page(&self, q: &HistoryQuery) -> Result<List<TransactionView>> {
        let status = q
            .status
            .as_deref()
            .map(str::parse::<TxStatus>)
            .transpose()
            .map_err(|e| Error::invalid("status", e))?;
        let method = q
            .method
            .as_deref()
            .map(str::parse::<Method>)
            .transpose()
            .map_err(|e| Error::invalid("method", e))?;
        let from = opt_date("from", q.from.as_deref())?;
        let to = opt_date("to", q.to.as_deref())?;
        check_range(from, to)?;
        let per_page = q.per_page.unwrap_or(50);
        if !(1..=500).contains(&per_page) {
            return Err(Error::invalid("per-page", "choose 1 to 500 per page"));
        }
        let filter = TxFilter {
            status,
            method,
            from,
            to,
            search: q.search.clone().filter(|s| !s.trim().is_empty()),
            policy_id: None,
            page: q.page.unwrap_or(1).max(1),
            per_page,
            after: q
                .after
                .as_deref()
                .filter(|a| !a.trim().is_empty())
                .map(crate::views::read_cursor)
                .transpose()?,
        };
        let page = self.store().transactions(&filter).await?;
        Ok(List {
            items: page.items.iter().map(TransactionView::from).collect(),
            total: page.total,
            more: page.total_is_floor,
            next: page.next.map(|(at, id)| crate::views::cursor(at, id)),
        })
    }

    /// Every payment matching `q` (all pages), as CSV for a spreadsheet: amounts as exact
    /// decimals, times in Nairobi time as the screens show them (RFC 3339 with `+03:00`, which
    /// spreadsheets and scripts read alike).
    pub async fn history_csv(&self, actor: &Actor, q: &HistoryQuery) -> Result<String> {
        actor.require(Action::Read)?;
        let mut out = csv::Writer::from_writer(Vec::new());
        let csv_error = |e: csv::Error| Error::internal(e.to_string());
        out.write_record([
            "number",
            "created_at",
            "policy",
            "holder",
            "method",
            "status",
            "amount",
            "currency",
            "refunded",
            "phone",
            "email",
            "provider_receipt",
            "receipt_number",
            "clerk",
            "failure_reason",
        ])
        .map_err(csv_error)?;
        for page in 1_u32.. {
            let list = self
                .history(
                    actor,
                    &HistoryQuery {
                        page: Some(page),
                        per_page: Some(500),
                        ..q.clone()
                    },
                )
                .await?;
            for t in &list.items {
                let opt = |v: &Option<String>| spreadsheet_safe(v.as_deref().unwrap_or_default());
                out.write_record([
                    t.number.clone(),
                    in_nairobi(&t.created_at),
                    spreadsheet_safe(&t.policy),
                    spreadsheet_safe(&t.holder),
                    t.method.as_str().to_owned(),
                    t.status.as_str().to_owned(),
                    t.amount.clone(),
                    t.currency.clone(),
                    t.refunded.clone(),
                    opt(&t.phone),
                    opt(&t.email),
                    opt(&t.provider_receipt),
                    opt(&t.receipt_number),
                    opt(&t.clerk),
                    opt(&t.failure_reason),
                ])
                .map_err(csv_error)?;
            }
            if list.items.len() < 500 {
                break;
            }
        }
        let bytes = out
            .into_inner()
            .map_err(|e| Error::internal(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::internal(e.to_string()))
    }

    /// One payment by id (`42`), number (`HQ-000042`) or provider reference; by number, also
    /// one taken at another counter of the company (read-only, as the relay knows it).
    pub async fn transaction(&self, actor: &Actor, key: &str) -> Result<TransactionView> {
        actor.require(Action::Read)?;
        if key.trim().is_empty() {
            return Err(Error::invalid(
                "transaction",
                "give an id or a number like HQ-000042",
            ));
        }
        let key = TxKey::parse(key);
        match self.store().transaction(&key).await {
            Ok(record) => Ok(TransactionView::from(&record)),
            Err(malipo_store::StoreError::NotFound(what)) => match &key {
                TxKey::Number(n) => match self.store().company_payment(n).await? {
                    Some(c) => Ok(TransactionView::from(&c)),
                    None => Err(malipo_store::StoreError::NotFound(what).into()),
                },
                _ => Err(malipo_store::StoreError::NotFound(what).into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// The company's payments as this counter knows them: every counter's, newest first. A
    /// manager sees every branch (or the one asked for); a clerk sees their own branch.
    pub async fn company_history(
        &self,
        actor: &Actor,
        q: &CompanyQuery,
    ) -> Result<List<TransactionView>> {
        actor.require(Action::Read)?;
        let own = self.office_code().await?;
        let office = if actor.may(Action::ViewReports) {
            q.office
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(OfficeCode::parse)
                .transpose()
                .map_err(|e| Error::invalid("branch", e))?
        } else {
            Some(own.clone())
        };
        let status = q
            .status
            .as_deref()
            .map(str::parse::<TxStatus>)
            .transpose()
            .map_err(|e| Error::invalid("status", e))?;
        let from = opt_date("from", q.from.as_deref())?;
        let to = opt_date("to", q.to.as_deref())?;
        check_range(from, to)?;
        let desk = self.desk().await?;
        let counter = desk.counter().map(|c| c.to_string());
        let filter = CompanyFilter {
            office: office.map(|o| o.to_string()),
            status,
            policy: q.policy.clone(),
            from_ms: from.map(malipo_domain::time_zone::day_start_ms),
            to_ms: to
                .and_then(|d| d.next_day())
                .map(malipo_domain::time_zone::day_start_ms),
            page: q.page.unwrap_or(1),
            per_page: q.per_page.unwrap_or(50),
        };
        let (rows, total) = self
            .store()
            .company_payments((own.as_str(), counter.as_deref()), &filter)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for c in &rows {
            items.push(if c.here {
                let t = self
                    .store()
                    .transaction(&TxKey::Reference(c.reference.clone()))
                    .await?;
                TransactionView::from(&t)
            } else {
                TransactionView::from(c)
            });
        }
        Ok(List::of(items, total))
    }

    pub async fn summary(&self, actor: &Actor, q: &SummaryQuery) -> Result<SummaryView> {
        actor.require(Action::ViewReports)?;
        let from = opt_date("from", q.from.as_deref())?;
        let to = opt_date("to", q.to.as_deref())?;
        check_range(from, to)?;
        let currency = match q.currency.as_deref() {
            Some(c) => Currency::from_code(c).map_err(|e| Error::invalid("currency", e))?,
            None => self.office_currency().await?,
        };
        let summary = self
            .store()
            .summary(&SummaryFilter { from, to, currency })
            .await?;
        let names: HashMap<i64, String> = self
            .store()
            .users()
            .await?
            .into_iter()
            .map(|u| (u.id, u.username))
            .collect();
        Ok(SummaryView::new(
            &summary,
            from.map(|d| d.to_string()),
            to.map(|d| d.to_string()),
            |id| {
                names
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "(no clerk)".to_owned())
            },
        ))
    }

    /// The manager's dashboard for the Nairobi days `from..=to`: the office's figures always,
    /// the company's when the relay answers (its failure is reported, not raised), the first
    /// 50 overdue instalments as of today, and how many refunds and orphan events wait.
    pub async fn dashboard(&self, actor: &Actor, q: &SummaryQuery) -> Result<DashboardView> {
        actor.require(Action::ViewReports)?;
        let office = self.summary(actor, q).await?;
        // Both ask the relay: together, so a slow relay is waited for once.
        let (company, suspense) =
            tokio::join!(self.company_summary(actor, q), self.suspense_waiting(actor));
        let (company, company_problem) = match company {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let mut overdue = self
            .instalments(&ScheduleQuery {
                status: Some(InstalmentStatus::Overdue),
                ..ScheduleQuery::default()
            })
            .await?
            .items;
        overdue.sort_by_key(|i| std::cmp::Reverse(i.days_overdue));
        let overdue_total = overdue.len() as i64;
        overdue.truncate(50);
        let (refunds_waiting, orphans_open) = self.store().waiting_decisions().await?;
        let mut messages = crate::views::MessageCounts::default();
        for (status, n) in self.store().message_counts().await? {
            match status.as_str() {
                "queued" | "sending" => messages.queued += n,
                "sent" => messages.sent = n,
                "delivered" => messages.delivered = n,
                "failed" => messages.failed = n,
                _ => messages.skipped += n,
            }
        }
        Ok(DashboardView {
            office,
            company,
            company_problem,
            overdue,
            overdue_total,
            refunds_waiting,
            orphans_open,
            messages,
            ledger: self.ledger_status(actor).await?,
            suspense,
            cash: crate::views::CashPositionView::from(
                &self
                    .store()
                    .cash_position(self.office_currency().await?)
                    .await?,
            ),
            cash_ups_unsigned: self.store().cash_ups_unsigned().await?,
            providers: self.provider_health(actor).await?,
            lapsing: self.lapsing_within(7).await?,
        })
    }

    /// The company's paybill payments waiting in suspense, in the office's currency; none when
    /// the relay cannot be asked (the company view says why).
    async fn suspense_waiting(&self, actor: &Actor) -> Option<crate::views::TotalsView> {
        let currency = self.office_currency().await.ok()?;
        let open = self.suspense(actor, false).await.ok()?;
        let mine: Vec<_> = open
            .iter()
            .filter(|s| s.status == "open" && s.currency == currency.code())
            .collect();
        let minor: i64 = mine.iter().map(|s| s.amount_minor).sum();
        Some(crate::views::TotalsView {
            count: mine.len() as i64,
            amount: malipo_domain::Money::from_minor(minor, currency)
                .map_or_else(|_| minor.to_string(), |m| m.amount_string()),
            amount_minor: minor,
        })
    }

    /// The company-wide summary from the relay, in the office's currency. Managers only.
    pub async fn company_summary(
        &self,
        actor: &Actor,
        q: &SummaryQuery,
    ) -> Result<crate::views::CompanyView> {
        actor.require(Action::ViewReports)?;
        let from = opt_date("from", q.from.as_deref())?;
        let to = opt_date("to", q.to.as_deref())?;
        check_range(from, to)?;
        let currency = self.office_currency().await?;
        let office = q
            .office
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(OfficeCode::parse)
            .transpose()
            .map_err(|e| Error::invalid("branch", e))?;
        let query = malipo_relay_api::SummaryQuery {
            from: from.map(|d| d.to_string()),
            to: to.map(|d| d.to_string()),
            currency: Some(currency.code().to_owned()),
            office: office.map(|o| o.to_string()),
        };
        Ok(self.providers().relay()?.company_summary(&query).await?)
    }

    pub async fn schedule(&self, actor: &Actor, q: &ScheduleQuery) -> Result<List<InstalmentView>> {
        actor.require(Action::Read)?;
        self.instalments(q).await
    }

    /// [`App::schedule`] for a service that has checked its own caller.
    async fn instalments(&self, q: &ScheduleQuery) -> Result<List<InstalmentView>> {
        let today =
            opt_date("date", q.date.as_deref())?.unwrap_or_else(|| nairobi_date(self.now()));
        if let Some(p) = &q.policy {
            self.policy_record(p).await?;
        }
        let lines = self
            .store()
            .schedule(&ScheduleFilter {
                today,
                status: q.status,
                policy: q.policy.clone(),
            })
            .await?;
        let items: Vec<InstalmentView> = lines.iter().map(InstalmentView::from).collect();
        let total = i64::try_from(items.len()).unwrap_or(i64::MAX);
        Ok(List::of(items, total))
    }

    pub async fn audit_log(
        &self,
        actor: &Actor,
        entity: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<AuditView>> {
        actor.require(Action::ViewAuditLog)?;
        Ok(self
            .store()
            .audit_log(entity, limit.clamp(1, 10_000))
            .await?
            .iter()
            .map(AuditView::from)
            .collect())
    }

    /// Sets one setting of [`table::ALL`] that is kept in the office database (a secret is
    /// refused: it goes to the keyring), or a message template, checking the value by its
    /// kind or its own rule.
    pub async fn set_setting(&self, actor: &Actor, key: &str, value: &str) -> Result<()> {
        actor.require(Action::ManageSettings)?;
        let value = value.trim();
        if crate::settings::templates::TEMPLATES
            .iter()
            .any(|t| key == format!("{t}.en") || key == format!("{t}.sw"))
        {
            if value.is_empty() || value.chars().count() > 1000 {
                return Err(Error::invalid(
                    key,
                    "give the text, at most 1,000 characters",
                ));
            }
            self.store()
                .set_setting(actor.name(), key, value, self.now())
                .await?;
            return Ok(());
        }
        let Some(setting) = table::find(key) else {
            return Err(Error::invalid(
                "setting",
                format!(
                    "unknown setting '{key}'; use one of {}",
                    table::ALL
                        .iter()
                        .filter(|s| !s.secret)
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if setting.secret {
            return Err(Error::invalid(
                "setting",
                format!(
                    "{key} is a secret: it is kept in the OS keyring or given in the environment ({}), never in the office database",
                    setting.env
                ),
            ));
        }
        let value = match setting.kind {
            table::Kind::Text => value.to_owned(),
            table::Kind::Choice(words) => match words.iter().find(|w| **w == value) {
                Some(w) => (*w).to_owned(),
                None => {
                    return Err(Error::invalid(key, format!("use {}", words.join(" or "))));
                }
            },
            table::Kind::Whole { min, max, unit } => match value.parse::<u32>() {
                Ok(n) if (min..=max).contains(&n) => n.to_string(),
                _ => {
                    return Err(Error::invalid(
                        key,
                        format!("give a whole number of {unit} from {min} to {max}"),
                    ));
                }
            },
            table::Kind::Rule => match key {
                k if k == table::OFFICE_CODE.key => {
                    if self
                        .store()
                        .transactions(&TxFilter {
                            per_page: 1,
                            ..TxFilter::default()
                        })
                        .await?
                        .total
                        > 0
                    {
                        return Err(Error::Conflict("the office code is printed in every number already issued; it cannot change after the first payment".into()));
                    }
                    OfficeCode::parse(value)
                        .map_err(|e| Error::invalid(key, e))?
                        .to_string()
                }
                k if k == table::OFFICE_CURRENCY.key => Currency::from_code(value)
                    .map_err(|e| Error::invalid(key, e))?
                    .code()
                    .to_owned(),
                k if k == table::MAX_AMOUNT.key => {
                    let currency = self.office_currency().await?;
                    Money::parse(value, currency)
                        .map_err(|e| Error::invalid(key, e))?
                        .amount_string()
                }
                k if k == table::REMINDER_DAYS.key || k == table::GRACE_REMINDER_DAYS.key => {
                    crate::messages::parse_ladder(value)
                        .map_err(|e| Error::invalid(key, e))?
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                }
                k if k == table::COLLECT_RETRY_DAYS.key => {
                    crate::collector::parse_retry_days(value)
                        .map_err(|e| Error::invalid(key, e))?
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                }
                k if k == table::COLLECT_HOUR.key => {
                    let (h, m) =
                        crate::collector::parse_hour(value).map_err(|e| Error::invalid(key, e))?;
                    format!("{h:02}:{m:02}")
                }
                k if k == table::RELAY_CA_FILE.key && !value.is_empty() => {
                    crate::relay::RelayCa::load(value)
                        .map_err(|e| Error::invalid(key, e))?
                        .path
                }
                k if k == table::UPDATE_URL.key && !value.is_empty() => {
                    crate::updates::check_update_url(value)
                        .map_err(|e| Error::invalid(key, e))?
                        .to_string()
                }
                k if k == table::QUIET_HOURS.key => {
                    crate::messages::parse_quiet_hours(value)
                        .map_err(|e| Error::invalid(key, e))?;
                    value.trim().to_owned()
                }
                // Empty: no updates from the company.
                k if k == table::UPDATE_URL.key => String::new(),
                k if k == table::CHEQUE_BOUNCE_FEE.key && value.is_empty() => String::new(),
                k if k == table::CHEQUE_BOUNCE_FEE.key => {
                    let currency = self.office_currency().await?;
                    Money::parse(value, currency)
                        .map_err(|e| Error::invalid(key, e))?
                        .amount_string()
                }
                k if k == table::BANK_STATEMENT_COLUMNS.key => {
                    crate::cheques::check_columns(value)?
                }
                other => return Err(Error::internal(format!("{other} has no rule"))),
            },
        };
        self.store()
            .set_setting(actor.name(), key, &value, self.now())
            .await?;
        Ok(())
    }

    /// The office's details (their defaults when unset) and every other setting kept in the
    /// office database, as `(key, value)`.
    pub async fn settings(&self, actor: &Actor) -> Result<Vec<(String, String)>> {
        actor.require(Action::Read)?;
        let stored: HashMap<String, String> = self.store().settings().await?.into_iter().collect();
        Ok(table::ALL
            .iter()
            .filter(|s| !s.secret && (s.office || stored.contains_key(s.key)))
            .map(|s| {
                let v = stored
                    .get(s.key)
                    .cloned()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(|| s.default.to_owned());
                (s.key.to_owned(), v)
            })
            .collect())
    }
}

/// An RFC 3339 instant at Nairobi's offset (`2026-11-30T14:05:00+03:00`); left as it is if it
/// cannot be read.
fn in_nairobi(at: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(malipo_domain::time_zone::NAIROBI)
                .format(&Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_owned())
}

//! Adding, importing, finding and showing policies.

use std::collections::HashMap;
use std::io::Read;

use serde::Serialize;
use time::Date;

use malipo_domain::schedule;
use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Currency, Email, Frequency, HolderName, Money, Msisdn, PolicyNumber};
use malipo_store::{NewPolicy, PolicyFilter, PolicyOrder, ScheduleFilter, TxFilter};

use crate::views::{InstalmentView, List, PolicyDetails, PolicyRow, PolicyView, TransactionView};
use crate::{Actor, App, Error, Result};

/// A policy as typed or as read from a CSV row.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub number: String,
    pub holder: String,
    pub phone: String,
    pub email: Option<String>,
    /// Due per instalment, e.g. `1,500`.
    pub premium: String,
    /// `monthly` (the default), `quarterly` or `annually`.
    pub frequency: Option<String>,
    /// How many instalments (12 unless given).
    pub instalments: Option<u32>,
    /// When the first instalment is due, `30/11/2026` or `2026-11-30` (today unless given).
    pub start: Option<String>,
}

/// Which policies to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyQuery {
    /// Part of a number, holder's name or phone.
    pub search: Option<String>,
    /// Those with an instalment overdue first, longest overdue first.
    pub overdue_first: bool,
    /// From 1; the first page when not given.
    pub page: Option<u32>,
    /// 50 when not given; at most 500.
    pub per_page: Option<u32>,
}

/// The outcome of an import, written or (with `dry_run`) only checked.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: usize,
    pub imported: usize,
    pub policies: Vec<PolicyView>,
}

/// Parses a date typed day first (`30/11/2026`) or in ISO form (`2026-11-30`).
pub(crate) fn parse_date(field: &str, text: &str) -> Result<Date> {
    malipo_domain::time_zone::parse_day(text).ok_or_else(|| {
        let shown = if text.chars().count() <= 20 {
            format!("'{}'", text.trim())
        } else {
            "That".to_owned()
        };
        Error::invalid(field, format!("{shown} is not a date like 30/11/2026"))
    })
}

fn blank_to_none(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl PolicyInput {
    fn parse(&self, currency: Currency, today: Date) -> Result<NewPolicy> {
        let number =
            PolicyNumber::parse(&self.number).map_err(|e| Error::invalid("policy number", e))?;
        let holder = HolderName::parse(&self.holder).map_err(|e| Error::invalid("holder", e))?;
        let phone = Msisdn::parse(&self.phone).map_err(|e| Error::invalid("phone", e))?;
        let email = blank_to_none(self.email.as_deref())
            .map(Email::parse)
            .transpose()
            .map_err(|e| Error::invalid("email", e))?;
        let premium =
            Money::parse(&self.premium, currency).map_err(|e| Error::invalid("premium", e))?;
        let frequency: Frequency = match blank_to_none(self.frequency.as_deref()) {
            Some(f) => f.parse().map_err(|e| Error::invalid("frequency", e))?,
            None => Frequency::Monthly,
        };
        let start = match blank_to_none(self.start.as_deref()) {
            Some(s) => parse_date("start date", s)?,
            None => today,
        };
        let count = self.instalments.unwrap_or(12);
        let instalments = schedule::generate(start, count, frequency, premium)
            .map_err(|e| Error::invalid("instalments", e))?;
        Ok(NewPolicy {
            number,
            holder,
            phone,
            email,
            premium,
            frequency,
            instalments,
        })
    }
}

const REQUIRED_COLUMNS: [&str; 5] = ["policy_number", "holder_name", "phone", "email", "premium"];

impl App {
    pub async fn add_policy(&self, actor: &Actor, input: &PolicyInput) -> Result<PolicyView> {
        actor.require(Action::ManagePolicies)?;
        let currency = self.office_currency().await?;
        let policy = input.parse(currency, nairobi_date(self.now()))?;
        self.store()
            .insert_policies(actor.name(), std::slice::from_ref(&policy), self.now())
            .await?;
        self.policy(policy.number.as_str()).await
    }

    /// Imports policies from CSV with the header
    /// `policy_number,holder_name,phone,email,premium` (optionally also `frequency`,
    /// `instalments`, `start_date`). Every row is checked first; one bad row imports nothing
    /// and the error names the row and the reason.
    pub async fn import_policies(
        &self,
        actor: &Actor,
        csv_text: impl Read,
        dry_run: bool,
    ) -> Result<ImportReport> {
        actor.require(Action::ManagePolicies)?;
        let currency = self.office_currency().await?;
        let today = nairobi_date(self.now());
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(csv_text);
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| Error::invalid("CSV", format!("cannot read the header line: {e}")))?
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|c| column(c).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(Error::invalid(
                "CSV",
                format!(
                    "the header lacks {}; it must be {}",
                    missing.join(", "),
                    REQUIRED_COLUMNS.join(",")
                ),
            ));
        }
        let mut problems: Vec<String> = Vec::new();
        let mut parsed: Vec<NewPolicy> = Vec::new();
        let mut first_row: HashMap<String, usize> = HashMap::new();
        for (index, record) in reader.records().enumerate() {
            let row = index + 1;
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("row {row}: {e}"));
                    continue;
                }
            };
            let get = |name: &str| column(name).and_then(|i| record.get(i)).map(str::to_owned);
            let instalments = match get("instalments").filter(|s| !s.is_empty()) {
                Some(n) => match n.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        problems.push(format!(
                            "row {row}: instalments: '{n}' is not a whole number"
                        ));
                        continue;
                    }
                },
                None => None,
            };
            let input = PolicyInput {
                number: get("policy_number").unwrap_or_default(),
                holder: get("holder_name").unwrap_or_default(),
                phone: get("phone").unwrap_or_default(),
                email: get("email"),
                premium: get("premium").unwrap_or_default(),
                frequency: get("frequency"),
                instalments,
                start: get("start_date"),
            };
            match input.parse(currency, today) {
                Ok(p) => {
                    let key = p.number.to_string();
                    if let Some(first) = first_row.get(&key) {
                        problems.push(format!(
                            "row {row}: policy {key} appears again (first on row {first})"
                        ));
                    } else {
                        first_row.insert(key, row);
                        parsed.push(p);
                    }
                }
                Err(e) => problems.push(format!("row {row}: {e}")),
            }
        }
        let numbers: Vec<&str> = parsed.iter().map(|p| p.number.as_str()).collect();
        for taken in self.store().existing_policy_numbers(&numbers).await? {
            let row = first_row.get(&taken).copied().unwrap_or(0);
            problems.push(format!("row {row}: policy {taken} already exists"));
        }
        if let Some(first) = problems.first() {
            let more = match problems.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more problem{})", if n == 1 { "" } else { "s" }),
            };
            return Err(Error::invalid(
                "CSV",
                format!("{first}{more}; nothing was imported"),
            ));
        }
        if parsed.is_empty() {
            return Err(Error::invalid(
                "CSV",
                "the file has no policies below the header",
            ));
        }
        let rows = parsed.len();
        let views = parsed
            .iter()
            .map(|p| PolicyView {
                number: p.number.to_string(),
                holder: p.holder.as_str().to_owned(),
                phone: p.phone.to_string(),
                email: p.email.as_ref().map(|e| e.to_string()),
                premium: p.premium.amount_string(),
                premium_minor: p.premium.minor(),
                currency: p.premium.currency().code().to_owned(),
                frequency: p.frequency.as_str().to_owned(),
                created_at: crate::views::rfc3339(self.now()),
            })
            .collect();
        if !dry_run {
            self.store()
                .insert_policies(actor.name(), &parsed, self.now())
                .await?;
        }
        Ok(ImportReport {
            dry_run,
            rows,
            imported: if dry_run { 0 } else { rows },
            policies: views,
        })
    }

    pub async fn policy(&self, number: &str) -> Result<PolicyView> {
        match self.store().policy(number).await? {
            Some(p) => Ok(PolicyView::from(&p)),
            None => Err(Error::UnknownPolicy(number.trim().to_owned())),
        }
    }

    /// Policies matching the query, each with where its payments stand today in Nairobi.
    pub async fn policies(&self, q: &PolicyQuery) -> Result<List<PolicyRow>> {
        let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
        let offset = (q.page.unwrap_or(1).max(1) - 1).saturating_mul(per_page);
        let search = blank_to_none(q.search.as_deref());
        let (items, total) = self
            .store()
            .policies(&PolicyFilter {
                search,
                order: if q.overdue_first {
                    PolicyOrder::OverdueFirst
                } else {
                    PolicyOrder::Number
                },
                today: nairobi_date(self.now()),
                limit: per_page,
                offset,
            })
            .await?;
        Ok(List {
            items: items.iter().map(PolicyRow::from).collect(),
            total,
        })
    }

    /// A policy with its instalments as they stand today and its latest payments.
    pub async fn policy_details(&self, number: &str) -> Result<PolicyDetails> {
        let Some(record) = self.store().policy(number).await? else {
            return Err(Error::UnknownPolicy(number.trim().to_owned()));
        };
        let lines = self
            .store()
            .schedule(&ScheduleFilter {
                today: nairobi_date(self.now()),
                status: None,
                policy: Some(record.number.clone()),
            })
            .await?;
        let page = self
            .store()
            .transactions(&TxFilter {
                policy_id: Some(record.id),
                page: 1,
                per_page: 50,
                ..TxFilter::default()
            })
            .await?;
        Ok(PolicyDetails {
            policy: PolicyView::from(&record),
            instalments: lines.iter().map(InstalmentView::from).collect(),
            transactions: List {
                items: page.items.iter().map(TransactionView::from).collect(),
                total: page.total,
            },
        })
    }
}

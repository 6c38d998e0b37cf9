//! Adding, importing, finding and showing policies.

use std::io::Read;

use serde::Serialize;
use time::Date;

use malipo_domain::register;
use malipo_domain::schedule;
use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Currency, Email, Frequency, HolderName, Money, Msisdn, PolicyNumber};
use malipo_store::{NewPolicy, PolicyFilter, PolicyOrder, PolicySource, ScheduleFilter};

use crate::input::parse_date;
use crate::views::{InstalmentView, List, PolicyDetails, PolicyRow, PolicyView};
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
    /// For a correction: `active`, `lapsed` or `cancelled` (unchanged unless given).
    pub status: Option<String>,
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

/// The outcome of an import: what was (or, for a dry run or a refused file, would have been)
/// added, updated or left as it was, and each refused row with its line and why.
#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Rows below the header.
    #[ts(type = "number")]
    pub rows: usize,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: u64,
    /// Added and updated, once written.
    #[ts(type = "number")]
    pub imported: usize,
    pub refused: Vec<register::Refused>,
    /// Whether anything was written (never for a dry run or a file with a refused row).
    pub written: bool,
    /// Where the policies went: the company register, or this office until the next sync.
    pub register: String,
}

/// A register rule's refusal (`premium: it must be more than zero`) as the field it names.
fn correction(why: &str) -> Error {
    match why.split_once(": ") {
        Some((field, rest)) if field.len() <= 20 => Error::invalid(field, rest),
        _ => Error::invalid("policy", why),
    }
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

impl App {
    pub async fn add_policy(&self, actor: &Actor, input: &PolicyInput) -> Result<PolicyView> {
        actor.require(Action::ManagePolicies)?;
        let currency = self.office_currency().await?;
        let policy = input.parse(currency, nairobi_date(self.now()))?;
        self.store()
            .insert_policies(actor.name(), std::slice::from_ref(&policy), self.now())
            .await?;
        self.policy(actor, policy.number.as_str()).await
    }

    /// Corrects a policy of the register as a register row would (the same checks, the
    /// schedule made again when the premium or schedule changes, what was paid kept against
    /// it): holder, phone, e-mail (blank removes it) and premium as given; frequency,
    /// instalments, first due date and status unchanged unless given. Sent to the company
    /// register like an import. Says whether anything changed.
    pub async fn correct_policy(
        &self,
        actor: &Actor,
        input: &PolicyInput,
    ) -> Result<(PolicyView, bool)> {
        actor.require(Action::ManagePolicies)?;
        let currency = self.office_currency().await?;
        let instalments = input.instalments.map(|n| n.to_string());
        let get = |name: &str| -> Option<&str> {
            let value = match name {
                "policy_number" => Some(input.number.as_str()),
                "holder_name" => Some(input.holder.as_str()),
                "phone" => Some(input.phone.as_str()),
                "email" => input.email.as_deref(),
                "premium" => Some(input.premium.as_str()),
                "frequency" => input.frequency.as_deref(),
                "instalments" => instalments.as_deref(),
                "start_date" => input.start.as_deref(),
                "status" => input.status.as_deref(),
                _ => None,
            };
            blank_to_none(value)
        };
        let draft = register::draft_of(&get, currency).map_err(|why| correction(&why))?;
        let number = draft.number.to_string();
        let held = self.store().register_policies(&[number.as_str()]).await?;
        let Some(existing) = held.get(number.as_str()) else {
            return Err(Error::UnknownPolicy(number));
        };
        let policy = draft
            .resolve(Some(existing), nairobi_date(self.now()))
            .map_err(|why| correction(&why))?;
        let changed = policy != *existing;
        if changed {
            self.store()
                .upsert_policies(
                    actor.name(),
                    std::slice::from_ref(&policy),
                    PolicySource::Counter,
                    None,
                    self.now(),
                )
                .await?;
            let shared = self.share_policies().await;
            tracing::info!(policy = %number, register = %shared, "policy corrected");
        }
        Ok((self.policy(actor, &number).await?, changed))
    }

    /// Imports policies from CSV (the core insurance system's export: header
    /// `policy_number,holder_name,phone,email,premium`, then optionally `frequency`,
    /// `instalments`, `start_date`, `status`, `currency`), as often as it changes: new policies
    /// are added, changed ones updated (their schedule made again when the premium or schedule
    /// changed), the rest left as they are. Every row is checked first; one refused row imports
    /// nothing, and the report names each with its line and why. With a relay, the policies go
    /// to the company register at once (or at the next sync if it cannot be reached).
    pub async fn import_policies(
        &self,
        actor: &Actor,
        csv_text: impl Read,
        dry_run: bool,
    ) -> Result<ImportReport> {
        actor.require(Action::ManagePolicies)?;
        let mut text = Vec::new();
        let mut csv_text = csv_text;
        csv_text
            .read_to_end(&mut text)
            .map_err(|e| Error::invalid("CSV", format!("cannot read it: {e}")))?;
        let currency = self.office_currency().await?;
        let today = nairobi_date(self.now());
        let (drafts, refused) =
            register::read_csv(&text, currency).map_err(|e| Error::invalid("CSV", e))?;
        let mut report = ImportReport {
            dry_run,
            rows: drafts.len() + refused.len(),
            refused,
            ..ImportReport::default()
        };
        if report.rows == 0 {
            return Err(Error::invalid(
                "CSV",
                "the file has no policies below the header",
            ));
        }
        let numbers: Vec<&str> = drafts.iter().map(|d| d.number.as_str()).collect();
        let held = self.store().register_policies(&numbers).await?;
        let mut policies = Vec::with_capacity(drafts.len());
        for d in &drafts {
            match d.resolve(held.get(d.number.as_str()), today) {
                Ok(p) => {
                    match held.get(d.number.as_str()) {
                        Some(h) if *h == p => report.unchanged += 1,
                        Some(_) => report.updated.push(p.number.to_string()),
                        None => report.added.push(p.number.to_string()),
                    }
                    policies.push(p);
                }
                Err(why) => report.refused.push(register::Refused {
                    line: d.line,
                    number: Some(d.number.to_string()),
                    why,
                }),
            }
        }
        report.refused.sort_by_key(|r| r.line);
        if dry_run || !report.refused.is_empty() {
            return Ok(report);
        }
        self.store()
            .upsert_policies(
                actor.name(),
                &policies,
                PolicySource::Counter,
                None,
                self.now(),
            )
            .await?;
        report.written = true;
        report.imported = report.added.len() + report.updated.len();
        report.register = self.share_policies().await;
        Ok(report)
    }

    /// Sends policies added here to the company register now rather than at the next sync;
    /// says where they are.
    pub(crate) async fn share_policies(&self) -> String {
        let providers = self.providers();
        let Ok(relay) = providers.relay() else {
            return "kept in this office (no relay is set)".to_owned();
        };
        let mut sync = crate::SyncReport::default();
        match self.push_policies(relay, &mut sync).await {
            Ok(()) if sync.problems.is_empty() => "sent to the company register".to_owned(),
            Ok(()) => format!(
                "kept here; the company register: {}",
                sync.problems.join("; ")
            ),
            Err(e) => format!("kept here; they reach the company register at the next sync ({e})"),
        }
    }

    pub async fn policy(&self, actor: &Actor, number: &str) -> Result<PolicyView> {
        actor.require(Action::Read)?;
        match self.store().policy(number).await? {
            Some(p) => Ok(PolicyView::from(&p)),
            None => Err(Error::UnknownPolicy(number.trim().to_owned())),
        }
    }

    /// Policies matching the query, each with where its payments stand today in Nairobi.
    pub async fn policies(&self, actor: &Actor, q: &PolicyQuery) -> Result<List<PolicyRow>> {
        actor.require(Action::Read)?;
        let per_page = q.per_page.unwrap_or(50).clamp(1, 500);
        let offset = (q.page.unwrap_or(1).max(1) - 1).saturating_mul(per_page);
        let search = blank_to_none(q.search.as_deref());
        let today = nairobi_date(self.now());
        let (items, total) = self
            .store()
            .policies(&PolicyFilter {
                search,
                order: if q.overdue_first {
                    PolicyOrder::OverdueFirst
                } else {
                    PolicyOrder::Number
                },
                today,
                limit: per_page,
                offset,
            })
            .await?;
        let grace = self.grace_days().await?;
        let manager = self.manager_reinstates().await?;
        Ok(List::of(
            items
                .iter()
                .map(|p| PolicyRow::with_standing(p, today, grace, manager))
                .collect(),
            total,
        ))
    }

    /// Policies in grace whose grace ends within `days` (soonest first): from the most overdue,
    /// which are the nearest to lapsing.
    pub(crate) async fn lapsing_within(&self, days: i64) -> Result<Vec<PolicyRow>> {
        let today = nairobi_date(self.now());
        let grace = self.grace_days().await?;
        let (items, _) = self
            .store()
            .policies(&PolicyFilter {
                search: None,
                order: PolicyOrder::OverdueFirst,
                today,
                limit: 500,
                offset: 0,
            })
            .await?;
        let until = today + time::Duration::days(days);
        let mut rows: Vec<PolicyRow> = items
            .iter()
            .map(|p| PolicyRow::with_standing(p, today, grace, false))
            .filter(|r| {
                r.grace_ends
                    .as_deref()
                    .and_then(|e| crate::input::parse_date("grace_ends", e).ok())
                    .is_some_and(|e| e <= until)
            })
            .collect();
        rows.sort_by(|a, b| a.grace_ends.cmp(&b.grace_ends));
        Ok(rows)
    }

    /// Policy `number`'s instalments as they stand on `today`, every counter's payments counted.
    pub(crate) async fn schedule_of(
        &self,
        number: &str,
        today: Date,
    ) -> Result<Vec<malipo_store::ScheduleLine>> {
        Ok(self
            .store()
            .schedule(&ScheduleFilter {
                today,
                status: None,
                policy: Some(number.to_owned()),
            })
            .await?)
    }

    /// The office's grace days (`policy.grace_days`, 14 unless set).
    pub(crate) async fn grace_days(&self) -> Result<u32> {
        Ok(self
            .setting_i64(crate::settings::table::POLICY_GRACE_DAYS.key)
            .await?
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(14))
    }

    /// A policy with its instalments as they stand today and its latest payments, taken at any
    /// counter of the company.
    pub async fn policy_details(&self, actor: &Actor, number: &str) -> Result<PolicyDetails> {
        actor.require(Action::Read)?;
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
        // Whoever looks at a policy sees its payments at every branch, not only their own.
        let transactions = self
            .company_history(
                &crate::Actor::Setup,
                &crate::CompanyQuery {
                    policy: Some(record.number.clone()),
                    ..crate::CompanyQuery::default()
                },
            )
            .await?;
        let today = nairobi_date(self.now());
        let currency = record.premium.currency();
        let paid = self.store().policy_paid(&record.number, currency).await?;
        let due: i64 = lines
            .iter()
            .filter(|l| l.state.instalment.due <= today)
            .map(|l| l.state.instalment.amount.minor())
            .sum();
        let credit =
            Money::from_minor((paid.minor() - due).max(0), currency).map_err(Error::internal)?;
        let (language, opted_out) = self.store().policy_message_prefs(record.id).await?;
        let messages = self
            .store()
            .messages(&malipo_store::MessageFilter {
                status: None,
                policy: Some(record.number.clone()),
                limit: 50,
            })
            .await?
            .iter()
            .map(crate::MessageView::from)
            .collect();
        let oldest_unpaid = lines
            .iter()
            .filter(|l| !l.state.outstanding.is_zero())
            .map(|l| l.state.instalment.due)
            .min();
        let standing = malipo_domain::Standing::on(oldest_unpaid, today, self.grace_days().await?);
        let (shown, waiting) =
            crate::views::shown_standing(record.status, standing, self.manager_reinstates().await?);
        // Dates only for what the premiums say (not for a lapse a manager has yet to end).
        let cancelled = shown == "cancelled" || waiting;
        Ok(PolicyDetails {
            policy: PolicyView::from(&record),
            instalments: lines.iter().map(InstalmentView::from).collect(),
            transactions,
            credit: credit.amount_string(),
            credit_minor: credit.minor(),
            language,
            opted_out,
            messages,
            standing: shown.to_owned(),
            awaiting_reinstatement: waiting,
            grace_ends: match standing {
                malipo_domain::Standing::Grace { ends } if !cancelled => Some(ends.to_string()),
                _ => None,
            },
            lapsed_since: match standing {
                malipo_domain::Standing::Lapsed { since } if !cancelled => Some(since.to_string()),
                _ => None,
            },
            collection: self.collection_of(record.id).await?,
        })
    }
}

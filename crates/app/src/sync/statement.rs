//! The M-Pesa statement from the organisation portal, imported as the company's M-Pesa ledger
//! for its period. Every row ends as exactly one of `matched` (recorded already, same amount),
//! `recovered` (paid in and completed but not recorded: proven with Transaction Status, because
//! a file is a claim, then recorded like a confirmation), `not_premium` (money out, charges,
//! settlements, reversals) or `refused` (with why). The four add up to the rows, or nothing is
//! recorded; the same file twice changes nothing.

use std::collections::HashMap;
use std::path::Path;

use malipo_domain::user::Action;
use malipo_providers::daraja::c2b::{self, C2bPayment};
use malipo_providers::daraja::statement::{self, StatementRow};
use malipo_store::{InboxAction, InboxOutcome, LedgerRow, NewStatement, RowOutcome};
use serde::Serialize;
use sha2::Digest;

use super::paybill::Listed;
use super::pull::stamp;
use crate::error::{Error, Result};
use crate::{Actor, App};

/// One row the import says something about.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct StatementLine {
    pub line: usize,
    pub receipt: String,
    pub why: String,
}

/// What an import found (or, on a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct StatementImport {
    pub rows: u64,
    pub matched: u64,
    pub recovered: u64,
    pub not_premium: u64,
    pub refused: u64,
    /// The period as the statement's header writes it.
    pub period: Option<String>,
    pub shortcode: Option<String>,
    pub dry_run: bool,
    /// This file was imported before: nothing changed.
    pub imported_before: bool,
    pub recovered_rows: Vec<StatementLine>,
    pub refused_rows: Vec<StatementLine>,
}

/// Whether a reason type is a customer's payment (rather than a charge, a settlement, a
/// reversal or money out).
fn premium_reason(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    if [
        "reversal",
        "charge",
        "settlement",
        "withdraw",
        "transfer",
        "salary",
    ]
    .iter()
    .any(|w| r.contains(w))
    {
        return false;
    }
    r.is_empty()
        || ["pay bill", "paybill", "buy goods", "customer"]
            .iter()
            .any(|w| r.contains(w))
}

/// How long an import waits for Transaction Status about `n` codes.
fn proof_wait(n: usize) -> std::time::Duration {
    std::time::Duration::from_secs((90 + 2 * n as u64).min(600))
}

/// A row before proof: decided, or to prove with Transaction Status.
enum First {
    Decided(RowOutcome, String),
    Prove,
}

impl App {
    /// Imports the M-Pesa statement in `path` (managers). With `dry_run` nothing is asked or
    /// recorded: rows not recorded are counted as they would be recovered.
    pub async fn import_statement(
        &self,
        actor: &Actor,
        path: &Path,
        dry_run: bool,
    ) -> Result<StatementImport> {
        actor.require(Action::ResolveReview)?;
        let size = std::fs::metadata(path)
            .map_err(|e| Error::invalid("file", format!("{}: {e}", path.display())))?
            .len();
        if size > statement::MAX_FILE_BYTES as u64 {
            return Err(Error::invalid(
                "file",
                statement::StatementError::TooLarge(size as usize).to_string(),
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Error::invalid("file", format!("{}: {e}", path.display())))?;
        self.import_statement_bytes(actor.name(), &bytes, dry_run)
            .await
    }

    /// [`Self::import_statement`] of a file the desktop read: its bytes in base64.
    pub async fn import_statement_upload(
        &self,
        actor: &Actor,
        content_base64: &str,
        dry_run: bool,
    ) -> Result<StatementImport> {
        actor.require(Action::ResolveReview)?;
        if content_base64.len() > statement::MAX_FILE_BYTES / 3 * 4 + 4 {
            return Err(Error::invalid(
                "file",
                statement::StatementError::TooLarge(content_base64.len() / 4 * 3).to_string(),
            ));
        }
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content_base64.trim())
            .map_err(|e| Error::invalid("file", format!("the file did not arrive whole: {e}")))?;
        self.import_statement_bytes(actor.name(), &bytes, dry_run)
            .await
    }

    /// [`Self::import_statement`] of a file's bytes.
    pub(crate) async fn import_statement_bytes(
        &self,
        actor: &str,
        bytes: &[u8],
        dry_run: bool,
    ) -> Result<StatementImport> {
        let digest: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if let Some(c) = self.store().statement_by_digest(&digest).await? {
            return Ok(StatementImport {
                rows: c.rows,
                matched: c.matched,
                recovered: c.recovered,
                not_premium: c.not_premium,
                refused: c.refused,
                dry_run,
                imported_before: true,
                ..StatementImport::default()
            });
        }
        let read = statement::read_statement(bytes)
            .map_err(|e| Error::invalid("statement", e.to_string()))?;
        let providers = self.providers();
        let shortcode = providers.daraja()?.config().shortcode.clone();
        let mut report = StatementImport {
            rows: read.rows.len() as u64,
            period: read.header.period_text.clone(),
            shortcode: read.header.shortcode.clone(),
            dry_run,
            ..StatementImport::default()
        };
        let mut decided: Vec<(RowOutcome, String)> = Vec::with_capacity(read.rows.len());
        let mut to_prove: Vec<usize> = Vec::new();
        let other = read
            .header
            .shortcode
            .as_deref()
            .filter(|s| !s.is_empty() && *s != shortcode);
        // Every row's code looked up at once: a statement may have a hundred thousand rows.
        let codes: Vec<&str> = read.rows.iter().map(|r| r.receipt.as_str()).collect();
        let recorded = self.store().recorded_codes(&codes).await?;
        for (i, row) in read.rows.iter().enumerate() {
            let first = match other {
                Some(other) => First::Decided(
                    RowOutcome::Refused,
                    format!("the statement is shortcode {other}'s, not this office's {shortcode}"),
                ),
                None => first_look(row, recorded.get(&row.receipt)),
            };
            match first {
                First::Decided(o, why) => decided.push((o, why)),
                First::Prove => {
                    to_prove.push(i);
                    decided.push((
                        RowOutcome::Recovered,
                        "paid in and completed, not recorded: Transaction Status proves it, then it is recorded".into(),
                    ));
                }
            }
        }
        if other.is_some() {
            // Nothing of another shortcode is this company's ledger.
            return Ok(tally(report, &read.rows, &decided));
        }
        if !dry_run && !to_prove.is_empty() {
            let proven = self.prove_rows(&read.rows, &to_prove, &shortcode).await?;
            for (i, outcome) in to_prove.iter().zip(proven) {
                if let Some(why) = outcome {
                    decided[*i] = (RowOutcome::Refused, why);
                }
            }
            let office = self.desk().await?;
            for i in &to_prove {
                if decided[*i].0 == RowOutcome::Recovered {
                    decided[*i] = self.record_row(actor, &read.rows[*i], &office).await?;
                }
            }
        }
        report = tally(report, &read.rows, &decided);
        if dry_run {
            return Ok(report);
        }
        let rows: Vec<LedgerRow> = read
            .rows
            .iter()
            .zip(&decided)
            .map(|(r, (outcome, why))| LedgerRow {
                line: r.line,
                receipt: r.receipt.clone(),
                completed_at: r.completed_at,
                paid_in: r.paid_in,
                withdrawn: r.withdrawn,
                status: r.status.clone(),
                reason_type: r.reason_type.clone(),
                details: r.details.clone(),
                other_party: r.other_party.clone(),
                account: r.account.clone(),
                outcome: *outcome,
                why: why.clone(),
            })
            .collect();
        let new = NewStatement {
            digest,
            shortcode: read.header.shortcode.clone(),
            holder: read.header.holder.clone(),
            period_text: read.header.period_text.clone(),
            period: read.header.period,
            opening: read.header.opening,
            closing: read.header.closing,
            currency: "KES".into(),
            header: read.header.fields.clone(),
        };
        self.store()
            .save_statement(actor, &new, &rows, self.now())
            .await?;
        if report.recovered > 0
            && let Ok(relay) = providers.relay()
            && let Err(e) = self.push(relay).await
        {
            tracing::warn!(error = %e, "recovered payments not sent to the relay yet");
        }
        Ok(report)
    }

    /// Asks Transaction Status about each row not recorded and waits (syncing with the relay
    /// that carries the answers) until all have answered: `None` for a row proven, or why it is
    /// refused. Unanswered by the deadline, the import records nothing.
    async fn prove_rows(
        &self,
        rows: &[StatementRow],
        which: &[usize],
        shortcode: &str,
    ) -> Result<Vec<Option<String>>> {
        for i in which {
            let code = &rows[*i].receipt;
            let check = self.store().paybill_check(code).await?;
            if check.as_ref().is_none_or(|c| c.answered_at.is_none())
                && let Some(why) = self.ask_status(code, None).await?
            {
                return Err(Error::Conflict(format!(
                    "Safaricom's Transaction Status could not be asked about {code}: {why}; nothing was recorded"
                )));
            }
        }
        let deadline = tokio::time::Instant::now() + proof_wait(which.len());
        loop {
            let mut answers: HashMap<usize, Option<String>> = HashMap::new();
            for i in which {
                let row = &rows[*i];
                let check = self.store().paybill_check(&row.receipt).await?;
                match check.and_then(|c| Some((c.found?, c.answer))) {
                    Some((false, _)) => {
                        answers.insert(*i, Some("Safaricom does not know this receipt".to_owned()));
                    }
                    Some((true, Some(body))) => {
                        let r = c2b::parse_status_result(body.as_bytes())
                            .map_err(|e| Error::internal(format!("a kept answer: {e}")))?;
                        let paid = row
                            .paid_in
                            .ok_or_else(|| Error::internal("a row without its amount"))?;
                        answers.insert(*i, r.confirms(&row.receipt, paid, shortcode));
                    }
                    _ => {}
                }
            }
            if answers.len() == which.len() {
                return Ok(which.iter().map(|i| answers.remove(i).flatten()).collect());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unconfirmed {
                    subject: "the statement".into(),
                    cause: format!(
                        "Safaricom's Transaction Status has not answered about {} of its receipts yet",
                        which.len() - answers.len()
                    ),
                    advice: "is not imported: nothing was recorded; import it again in a minute",
                });
            }
            self.sync_once().await?;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Records a proven row the way a confirmation is recorded: the prompt it is the payment
    /// of takes its code; otherwise the policy its `A/C No.` names, or the suspense list.
    async fn record_row(
        &self,
        actor: &str,
        row: &StatementRow,
        office: &malipo_domain::Desk,
    ) -> Result<(RowOutcome, String)> {
        let amount = row
            .paid_in
            .ok_or_else(|| Error::internal("a row without its amount"))?;
        let (msisdn, payer) = row
            .other_party
            .split_once(" - ")
            .map(|(m, n)| (m.trim().to_owned(), n.trim().to_owned()))
            .unwrap_or_default();
        let payment = C2bPayment {
            transaction_type: row.reason_type.clone(),
            trans_id: row.receipt.clone(),
            trans_time: stamp(row.completed_at),
            amount,
            shortcode: self.providers().daraja()?.config().shortcode.clone(),
            account: row.account.clone(),
            msisdn,
            payer: payer.clone(),
        };
        Ok(
            match self
                .record_listed(actor, &payment, row.completed_at, Some(payer), office)
                .await?
            {
                Listed::Prompt(tx) => (
                    RowOutcome::Matched,
                    format!(
                        "the M-Pesa prompt payment {}; it now carries its code",
                        tx.number
                    ),
                ),
                Listed::Decided(action) => match *action {
                    InboxAction::Record {
                        outcome: InboxOutcome::Held,
                        note,
                        ..
                    } => (
                        RowOutcome::Refused,
                        format!("{note}; import the statement again later"),
                    ),
                    InboxAction::Record { note, .. } => (RowOutcome::Matched, note),
                    _ => (RowOutcome::Matched, "recorded elsewhere".into()),
                },
                Listed::Unclaimed(why) => (
                    RowOutcome::Refused,
                    format!(
                        "the relay could not say which counter records it ({why}); import the statement again later"
                    ),
                ),
                Listed::ClaimedElsewhere(counter) => (
                    RowOutcome::Matched,
                    format!("being recorded by another counter ({counter})"),
                ),
                Listed::Recorded(t) => (
                    RowOutcome::Recovered,
                    format!("recorded as {} for {}", t.number, t.policy_number),
                ),
                Listed::Already => (RowOutcome::Matched, "recorded already".into()),
                Listed::NotRecorded(action) => match *action {
                    InboxAction::Record {
                        outcome: InboxOutcome::Suspense,
                        note,
                        ..
                    } => (RowOutcome::Recovered, note),
                    InboxAction::Record { note, .. } => (RowOutcome::Refused, note),
                    _ => (RowOutcome::Refused, "not recorded".into()),
                },
            },
        )
    }
}

/// The counts and the rows worth naming.
fn tally(
    mut report: StatementImport,
    rows: &[StatementRow],
    decided: &[(RowOutcome, String)],
) -> StatementImport {
    for (row, (outcome, why)) in rows.iter().zip(decided) {
        let line = StatementLine {
            line: row.line,
            receipt: row.receipt.clone(),
            why: why.clone(),
        };
        match outcome {
            RowOutcome::Matched => report.matched += 1,
            RowOutcome::Recovered => {
                report.recovered += 1;
                report.recovered_rows.push(line);
            }
            RowOutcome::NotPremium => report.not_premium += 1,
            RowOutcome::Refused => {
                report.refused += 1;
                report.refused_rows.push(line);
            }
        }
    }
    report
}

/// A row as far as the statement and this company's records tell it.
fn first_look(row: &StatementRow, recorded: Option<&malipo_store::RecordedCode>) -> First {
    if !row.status.eq_ignore_ascii_case("completed") {
        return First::Decided(
            RowOutcome::NotPremium,
            format!("{}, not completed", row.status),
        );
    }
    let Some(paid_in) = row.paid_in else {
        return First::Decided(
            RowOutcome::NotPremium,
            format!(
                "money out ({})",
                if row.reason_type.is_empty() {
                    "withdrawn"
                } else {
                    &row.reason_type
                }
            ),
        );
    };
    if !premium_reason(&row.reason_type) {
        return First::Decided(RowOutcome::NotPremium, row.reason_type.clone());
    }
    let recorded = recorded.map(|r| (r.number.clone(), r.amount));
    match recorded {
        Some((number, amount)) if amount == paid_in => {
            First::Decided(RowOutcome::Matched, format!("recorded as {number}"))
        }
        Some((number, amount)) => First::Decided(
            RowOutcome::Refused,
            format!(
                "the statement says {paid_in}, Malipo recorded {amount} as {number}: a manager should compare the two"
            ),
        ),
        None => First::Prove,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_payments_are_premiums_and_the_rest_is_not() {
        for r in [
            "Pay Bill Online",
            "Pay Bill",
            "Pay Bill Fuliza Online",
            "Buy Goods Online",
            "",
        ] {
            assert!(premium_reason(r), "{r}");
        }
        for r in [
            "Business Charge",
            "Organization Settlement",
            "Reversal",
            "Pay Bill Reversal",
            "Salary Payment",
        ] {
            assert!(!premium_reason(r), "{r}");
        }
    }
}

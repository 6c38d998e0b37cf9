//! The statement every business downloads from the M-Pesa organisation portal: XLSX, XLS or
//! CSV, a header block (account holder, shortcode, period, opening and closing balance, totals)
//! and then the table whose header row begins `Receipt No.`.
//!
//! Columns are found by name, not position: the portal has shipped more than one layout.
//! Spreadsheets are read with calamine; every cell becomes the text the portal meant (a number
//! cell as its shortest decimal form, a date cell as `DD-MM-YYYY HH:MM:SS`), so amounts are
//! read once, as text, into integer minor units.

use std::io::Cursor;

use calamine::{Data, Reader};
use malipo_domain::time_zone::NAIROBI;
use malipo_domain::{Currency, Money};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The largest statement file read (a year of a busy paybill is well under this).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// The most rows one statement may hold.
pub const MAX_ROWS: usize = 2_000_000;
/// The longest text kept of one cell.
const MAX_CELL: usize = 200;

/// Why a file is not a statement Malipo can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("the file is {0} bytes; statements up to 64 MB are read: export a shorter period")]
    TooLarge(usize),
    #[error("the file cannot be read as a spreadsheet or CSV: {0}")]
    Unreadable(String),
    #[error(
        "no table whose header row begins 'Receipt No.': export the statement from the M-Pesa organisation portal (XLSX, XLS or CSV)"
    )]
    NoTable,
    #[error("the table has no '{0}' column")]
    MissingColumn(&'static str),
    #[error("row {line}: {why}")]
    BadRow { line: usize, why: String },
    #[error("the statement has more than {MAX_ROWS} rows: export a shorter period")]
    TooManyRows,
}

/// The header block, as far as it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementHeader {
    pub holder: Option<String>,
    pub shortcode: Option<String>,
    /// The period as written.
    pub period_text: Option<String>,
    pub period: Option<(OffsetDateTime, OffsetDateTime)>,
    pub opening: Option<Money>,
    pub closing: Option<Money>,
    /// Every `name: value` line of the block, as written.
    pub fields: Vec<(String, String)>,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRow {
    /// Its line (1-based) in the file or sheet.
    pub line: usize,
    pub receipt: String,
    pub completed_at: OffsetDateTime,
    pub details: String,
    /// `Completed`, or another state.
    pub status: String,
    pub paid_in: Option<Money>,
    pub withdrawn: Option<Money>,
    /// `Pay Bill Online`, `Pay Bill`, `Business Charge`, `Organization Settlement`, ...
    pub reason_type: String,
    /// `2547****149 - John Doe`.
    pub other_party: String,
    /// `A/C No.`: the account the customer typed.
    pub account: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    pub header: StatementHeader,
    pub rows: Vec<StatementRow>,
}

/// A cell's text, bounded and trimmed.
fn clip(text: &str) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CELL)
        .collect()
}

/// A spreadsheet cell as the text the portal meant.
fn cell_text(d: &Data) -> String {
    match d {
        Data::DateTime(t) => {
            let (y, mo, day, h, mi, s, _) = t.to_ymd_hms_milli();
            format!("{day:02}-{mo:02}-{y:04} {h:02}:{mi:02}:{s:02}")
        }
        // The shortest decimal form that reads back as the same number: what was typed.
        other => clip(&other.to_string()),
    }
}

/// Every row of the file as its line (1-based) and text cells.
fn grid(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, StatementError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(StatementError::TooLarge(bytes.len()));
    }
    let spreadsheet = bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    if spreadsheet {
        let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
            .map_err(|e| StatementError::Unreadable(clip(&e.to_string())))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or(StatementError::NoTable)?
            .map_err(|e| StatementError::Unreadable(clip(&e.to_string())))?;
        if range.height() > MAX_ROWS + 100 {
            return Err(StatementError::TooManyRows);
        }
        let first = range.start().map_or(0, |(row, _)| row as usize);
        return Ok(range
            .rows()
            .enumerate()
            .map(|(i, r)| (first + i + 1, r.iter().map(cell_text).collect()))
            .collect());
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| StatementError::Unreadable(clip(&e.to_string())))?;
        if rows.len() > MAX_ROWS + 100 {
            return Err(StatementError::TooManyRows);
        }
        let line = record
            .position()
            .map_or(rows.len() + 1, |p| p.line() as usize);
        rows.push((line, record.iter().map(clip).collect()));
    }
    Ok(rows)
}

/// A header or label as compared: lower case, letters and digits only (`A/C No.` → `acno`).
fn key(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An amount as the portal writes it: `1,500.00`, `-1,500.00`, `1500`; empty is none.
pub fn read_amount(text: &str) -> Result<Option<Money>, String> {
    let t = text.trim().trim_start_matches('-').replace([',', ' '], "");
    if t.is_empty() {
        return Ok(None);
    }
    Money::parse(&t, Currency::Kes)
        .map(|m| (m.minor() != 0).then_some(m))
        .map_err(|_| format!("'{}' is not an amount", clip(text)))
}

/// A time as the portal writes it (`DD-MM-YYYY HH:MM:SS`), or the other orders spreadsheets
/// turn it into, in Nairobi time.
pub fn read_time(text: &str) -> Option<OffsetDateTime> {
    let t = text.trim();
    let formats = [
        format_description!("[day]-[month]-[year] [hour]:[minute]:[second]"),
        format_description!("[day]/[month]/[year] [hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        format_description!("[day]-[month]-[year] [hour]:[minute]"),
    ];
    formats
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(t, f).ok())
        .map(|p| p.assume_offset(NAIROBI))
}

fn header_from(lines: &[(usize, Vec<String>)]) -> StatementHeader {
    let mut h = StatementHeader::default();
    for (_, cells) in lines {
        let mut it = cells.iter().filter(|c| !c.is_empty());
        let (Some(name), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let name = name.trim_end_matches(':').trim().to_owned();
        let value = value.clone();
        match key(&name).as_str() {
            "accountholder" | "organisationname" | "organizationname" | "accountname" => {
                h.holder = Some(value.clone());
            }
            "shortcode" | "organisationshortcode" | "organizationshortcode" => {
                h.shortcode = Some(value.trim().to_owned());
            }
            "timeperiod" | "period" | "statementperiod" => {
                h.period_text = Some(value.clone());
                let parts: Vec<&str> = value.split(" - ").flat_map(|p| p.split(" to ")).collect();
                if let [from, to] = parts.as_slice() {
                    h.period = read_time(from).zip(read_time(to));
                }
            }
            "openingbalance" => h.opening = read_amount(&value).ok().flatten(),
            "closingbalance" => h.closing = read_amount(&value).ok().flatten(),
            _ => {}
        }
        h.fields.push((name, value));
    }
    h
}

/// Reads a statement file (XLSX, XLS or CSV; which one is told by its bytes).
pub fn read_statement(bytes: &[u8]) -> Result<Statement, StatementError> {
    let lines = grid(bytes)?;
    let start = lines
        .iter()
        .position(|(_, r)| {
            r.iter()
                .find(|c| !c.is_empty())
                .is_some_and(|c| key(c) == "receiptno")
        })
        .ok_or(StatementError::NoTable)?;
    let header = header_from(&lines[..start]);
    let names: Vec<String> = lines[start].1.iter().map(|c| key(c)).collect();
    let column = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let need = |wanted: &[&str], label: &'static str| {
        column(wanted).ok_or(StatementError::MissingColumn(label))
    };
    let receipt_at = need(&["receiptno"], "Receipt No.")?;
    let completed_at = need(&["completiontime", "completedtime"], "Completion Time")?;
    let status_at = need(&["transactionstatus", "status"], "Transaction Status")?;
    let paid_in_at = need(&["paidin", "credit"], "Paid In")?;
    let withdrawn_at = need(&["withdrawn", "withdrawal", "debit"], "Withdrawn")?;
    let details_at = column(&["details", "description"]);
    let reason_at = column(&["reasontype"]);
    let other_at = column(&["otherpartyinfo", "otherparty"]);
    let account_at = column(&["acno", "accountno", "accno", "accountnumber"]);
    let mut rows = Vec::new();
    for (line, cells) in lines.iter().skip(start + 1) {
        let line = *line;
        let get = |at: Option<usize>| at.and_then(|a| cells.get(a)).cloned().unwrap_or_default();
        let receipt = get(Some(receipt_at)).to_ascii_uppercase();
        if receipt.is_empty() {
            // Blank lines and the portal's footer (disclaimers, totals) end or break the table.
            continue;
        }
        if !super::c2b::is_receipt_number(&receipt) {
            if get(Some(paid_in_at)).is_empty() && get(Some(withdrawn_at)).is_empty() {
                continue;
            }
            return Err(StatementError::BadRow {
                line,
                why: format!("'{}' is not an M-Pesa receipt number", clip(&receipt)),
            });
        }
        let bad = |why: String| StatementError::BadRow { line, why };
        let completed = get(Some(completed_at));
        let completed_at = read_time(&completed).ok_or_else(|| {
            bad(format!(
                "'{}' is not a completion time (DD-MM-YYYY HH:MM:SS)",
                clip(&completed)
            ))
        })?;
        let paid_in = read_amount(&get(Some(paid_in_at))).map_err(bad)?;
        let withdrawn = read_amount(&get(Some(withdrawn_at))).map_err(bad)?;
        rows.push(StatementRow {
            line,
            receipt,
            completed_at,
            details: get(details_at),
            status: get(Some(status_at)),
            paid_in,
            withdrawn,
            reason_type: get(reason_at),
            other_party: get(other_at),
            account: get(account_at),
        });
        if rows.len() > MAX_ROWS {
            return Err(StatementError::TooManyRows);
        }
    }
    Ok(Statement { header, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTAL_CSV: &str = "Account Holder:,Malipo Insurance Ltd\n\
Short Code:,174379\n\
Time Period:,01-12-2026 00:00:00 - 06-12-2026 23:59:59\n\
Opening Balance:,\"49,197.00\"\n\
Closing Balance:,\"50,647.00\"\n\
\n\
Receipt No.,Completion Time,Initiation Time,Details,Transaction Status,Paid In,Withdrawn,Balance,Balance Confirmed,Reason Type,Other Party Info,Linked Transaction ID,A/C No.\n\
RKT1A2B3C4,05-12-2026 10:15:02,05-12-2026 10:15:01,Pay Bill from 25470****149 - John Doe Acc. POL-1,Completed,\"1,500.00\",,\"50,697.00\",true,Pay Bill Online,25470****149 - John Doe,,POL-1\n\
RKT1A2B3C5,05-12-2026 11:00:00,05-12-2026 11:00:00,Business Charge,Completed,,-50.00,\"50,647.00\",true,Business Charge,,,\n\
\n\
Disclaimer: this statement is generated by M-Pesa,,,,,,,,,,,,\n";

    #[test]
    fn the_portals_csv_reads_with_its_header_block_and_columns_by_name() {
        let s = read_statement(PORTAL_CSV.as_bytes()).unwrap();
        assert_eq!(s.header.holder.as_deref(), Some("Malipo Insurance Ltd"));
        assert_eq!(s.header.shortcode.as_deref(), Some("174379"));
        let (from, to) = s.header.period.unwrap();
        assert!(from < to);
        assert_eq!(s.header.opening.unwrap().minor(), 4_919_700);
        assert_eq!(s.rows.len(), 2);
        let r = &s.rows[0];
        assert_eq!(r.receipt, "RKT1A2B3C4");
        assert_eq!(r.paid_in.unwrap().minor(), 150_000);
        assert_eq!(r.withdrawn, None);
        assert_eq!(r.account, "POL-1");
        assert_eq!(r.reason_type, "Pay Bill Online");
        assert_eq!(r.line, 8);
        assert_eq!(s.rows[1].withdrawn.unwrap().minor(), 5_000);
    }

    #[test]
    fn columns_in_another_order_read_the_same() {
        let moved = "Receipt No.,A/C No.,Paid In,Withdrawn,Reason Type,Transaction Status,Completion Time\n\
RKT1A2B3C4,POL-1,1500,,Pay Bill Online,Completed,2026-12-05 10:15:02\n";
        let s = read_statement(moved.as_bytes()).unwrap();
        assert_eq!(s.rows[0].account, "POL-1");
        assert_eq!(s.rows[0].paid_in.unwrap().minor(), 150_000);
        assert_eq!(s.header, StatementHeader::default());
    }

    #[test]
    fn what_is_not_a_statement_says_why() {
        assert_eq!(
            read_statement(b"name,amount\nx,1\n").unwrap_err(),
            StatementError::NoTable
        );
        let no_paid_in = "Receipt No.,Completion Time,Transaction Status,Withdrawn\n";
        assert_eq!(
            read_statement(no_paid_in.as_bytes()).unwrap_err(),
            StatementError::MissingColumn("Paid In")
        );
        let bad_amount = "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn\n\
RKT1A2B3C4,05-12-2026 10:15:02,Completed,lots,\n";
        let e = read_statement(bad_amount.as_bytes()).unwrap_err();
        assert!(
            e.to_string().contains("row 2") && e.to_string().contains("'lots'"),
            "{e}"
        );
        let long = format!(
            "Receipt No.,Completion Time,Transaction Status,Paid In,Withdrawn\n{},05-12-2026 10:15:02,Completed,1,\n",
            "X".repeat(10_000)
        );
        let e = read_statement(long.as_bytes()).unwrap_err();
        assert!(e.to_string().len() < 400, "bounded: {e}");
        assert!(matches!(
            read_statement(b"PK\x03\x04not really a zip").unwrap_err(),
            StatementError::Unreadable(_)
        ));
    }
}

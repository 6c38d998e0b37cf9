//! Daraja's paybill side, as its documentation describes it: RegisterURL, the customer paying
//! the bill from their own phone (validation, when switched on, then confirmation, with the
//! masked number of current callbacks), and Transaction Status with its answer posted to the
//! result URL.
//!
//! Two answers are not published by Safaricom and are this simulator's own: the result for a
//! receipt number M-Pesa does not know (`R000001`, like the reversal of an unknown one), and the
//! error a RegisterURL call on the other product's path gets (`500.003.1001`, the error
//! integrators report for it).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::daraja::{
    bad_request, check_token, error, initiator_request, nairobi_stamp, receipt_number, text,
};
use crate::{Sandbox, lock};

/// The organisation name Transaction Status gives for the simulator's shortcode.
const ORGANISATION: &str = "Malipo Sandbox Insurance";

#[derive(Debug, Clone)]
struct Registration {
    response_type: String,
    confirmation_url: String,
    validation_url: String,
}

#[derive(Debug, Clone)]
struct Paid {
    amount: i64,
    shortcode: String,
    msisdn: String,
    name: String,
    at: OffsetDateTime,
    /// The account typed (paybill) or the push's `AccountReference` (express).
    account: String,
    /// `Pay Bill` or `CustomerPayBillOnline`.
    kind: &'static str,
}

/// One completed M-Pesa payment to a shortcode, as the payer's SMS and the organisation's
/// statement show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LedgerEntry {
    pub receipt: String,
    pub amount: i64,
    pub shortcode: String,
    pub account: String,
    pub msisdn: String,
    pub name: String,
    /// `Pay Bill` or `CustomerPayBillOnline`.
    pub kind: String,
    /// RFC 3339.
    pub at: String,
}

#[derive(Debug, Default)]
pub(crate) struct C2bState {
    /// Shortcode → the URLs registered for it.
    registered: HashMap<String, Registration>,
    /// Receipt → the paybill payment it names.
    paid: HashMap<String, Paid>,
    /// Shortcodes registered for Pull Transactions.
    pull_registered: std::collections::HashSet<String>,
}

pub(crate) fn routes() -> Router<Sandbox> {
    Router::new()
        .route("/__sandbox/mpesa/ledger", axum::routing::get(ledger))
        .route(
            "/__sandbox/mpesa/statement.csv",
            axum::routing::get(statement_csv),
        )
        .route(
            "/__sandbox/mpesa/statement.xlsx",
            axum::routing::get(statement_xlsx),
        )
        .route("/pulltransactions/v1/register", post(pull_register))
        .route("/pulltransactions/v1/query", post(pull_query))
        .route("/mpesa/c2b/v1/registerurl", post(register_v1))
        .route("/mpesa/c2b/v2/registerurl", post(register_v2))
        .route(
            "/mpesa/transactionstatus/v1/query",
            post(transaction_status),
        )
        .route("/__sandbox/c2b/pay", post(pay_bill))
}

/// `2547****149` from `254708374149`, as current C2B callbacks mask it.
fn masked(msisdn: &str) -> String {
    if msisdn.len() < 8 {
        return msisdn.to_owned();
    }
    format!("{}****{}", &msisdn[..5], &msisdn[msisdn.len() - 3..])
}

async fn register_v1(s: State<Sandbox>, h: HeaderMap, b: Json<Value>) -> Response {
    register(s, h, b, "v1").await
}

async fn register_v2(s: State<Sandbox>, h: HeaderMap, b: Json<Value>) -> Response {
    register(s, h, b, "v2").await
}

async fn register(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
    version: &str,
) -> Response {
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    if let Some(r) = s.injected_failure(true) {
        return r;
    }
    let behaviour = s.behaviour();
    if behaviour.c2b_version != version {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.003.1001",
            "Internal Server Error",
        );
    }
    let shortcode = text(&body, "ShortCode").unwrap_or_default();
    if shortcode != s.config().shortcode && !s.config().tills.contains(&shortcode) {
        return bad_request("Invalid ShortCode");
    }
    let response_type = text(&body, "ResponseType").unwrap_or_default();
    if !matches!(response_type.as_str(), "Completed" | "Cancelled") {
        return bad_request("Invalid ResponseType");
    }
    let url = |key: &str| {
        text(&body, key).filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    };
    let (Some(confirmation_url), Some(validation_url)) =
        (url("ConfirmationURL"), url("ValidationURL"))
    else {
        return bad_request("Invalid URL");
    };
    let refused = ["mpesa", "m-pesa", "safaricom", "exe", "cmd", "sql", "query"];
    for u in [&confirmation_url, &validation_url] {
        if refused.iter().any(|w| u.to_ascii_lowercase().contains(w)) {
            return bad_request("Invalid URL");
        }
    }
    let mut c = lock(&s.0.c2b);
    if behaviour.c2b_register_once && c.registered.contains_key(&shortcode) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500.003.1001",
            "URLs are already registered",
        );
    }
    c.registered.insert(
        shortcode,
        Registration {
            response_type,
            confirmation_url,
            validation_url,
        },
    );
    let n = OffsetDateTime::now_utc().unix_timestamp_nanos() % 100_000_000;
    Json(json!({
        "OriginatorCoversationID": format!("{:05}-{n:08}-1", n % 100_000),
        "ResponseCode": "0",
        "ResponseDescription": "success"
    }))
    .into_response()
}

/// The customer's side of a paybill payment, as the simulator is asked to play it.
#[derive(Debug, Clone, Deserialize)]
pub struct PayBill {
    /// The business the customer pays (the simulator's shortcode when not given).
    #[serde(default)]
    pub shortcode: Option<String>,
    /// What the customer typed as the account number (none when paying a till).
    #[serde(default)]
    pub account: String,
    /// Paid to a till (Lipa na M-Pesa Buy Goods): no account number at all.
    #[serde(default)]
    pub till: bool,
    /// Whole shillings.
    pub amount: i64,
    #[serde(default = "default_msisdn")]
    pub msisdn: String,
    #[serde(default = "default_name")]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// Paid this many minutes ago (a payment older than Pull's 48 hours, for the statement).
    #[serde(default)]
    pub minutes_ago: u32,
}

fn default_msisdn() -> String {
    "254708374149".into()
}

fn default_name() -> String {
    "John".into()
}

/// What became of a simulated paybill payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayBillOutcome {
    pub trans_id: String,
    /// `completed`, or `cancelled` when validation refused it (nothing was taken).
    pub outcome: String,
    /// The validation URL's answer, when validation is on.
    pub validation: Option<Value>,
}

/// A customer pays the bill (`POST /__sandbox/c2b/pay`): see [`Sandbox::pay_bill`].
async fn pay_bill(State(s): State<Sandbox>, Json(p): Json<PayBill>) -> Response {
    match s.pay_bill(p).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response(),
    }
}

impl Sandbox {
    /// A customer pays the bill: validation first when it is switched on (the answer, or the
    /// registered default when none comes within Safaricom's eight seconds, decides), then the
    /// confirmation to the registered URL. Without registered URLs M-Pesa completes it and
    /// tells nobody.
    pub async fn pay_bill(&self, p: PayBill) -> Result<PayBillOutcome, String> {
        let s = self;
        if p.amount < 1 || p.amount > 250_000 {
            return Err("amount is 1 to 250000 shillings".into());
        }
        let shortcode = p
            .shortcode
            .clone()
            .unwrap_or_else(|| s.config().shortcode.clone());
        let now = OffsetDateTime::now_utc() - time::Duration::minutes(i64::from(p.minutes_ago));
        let trans_id = {
            let mut d = lock(&s.0.daraja);
            d.receipts += 1;
            receipt_number(d.receipts)
        };
        let body = json!({
            "TransactionType": if p.till { "Buy Goods" } else { "Pay Bill" },
            "TransID": trans_id,
            "TransTime": nairobi_stamp(now),
            "TransAmount": format!("{}.00", p.amount),
            "BusinessShortCode": shortcode,
            "BillRefNumber": if p.till { "" } else { p.account.as_str() },
            "InvoiceNumber": "",
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": masked(&p.msisdn),
            "FirstName": p.first_name,
            "MiddleName": "",
            "LastName": p.last_name,
        });
        let registration = lock(&s.0.c2b).registered.get(&shortcode).cloned();
        let mut validation = None;
        if let (Some(reg), true) = (&registration, s.behaviour().c2b_validation) {
            let answer: Option<Value> = match &s.0.http {
                Some(http) => match http
                    .post(&reg.validation_url)
                    .json(&body)
                    .timeout(Duration::from_secs(8))
                    .send()
                    .await
                {
                    Ok(r) => r.json().await.ok(),
                    Err(_) => None,
                },
                None => None,
            };
            let accepted = match &answer {
                Some(a) => text(a, "ResultCode").as_deref() == Some("0"),
                None => reg.response_type == "Completed",
            };
            validation = Some(answer.unwrap_or(Value::Null));
            if !accepted {
                return Ok(PayBillOutcome {
                    trans_id,
                    outcome: "cancelled".into(),
                    validation,
                });
            }
        }
        lock(&s.0.c2b).paid.insert(
            trans_id.clone(),
            Paid {
                amount: p.amount,
                shortcode: shortcode.clone(),
                msisdn: p.msisdn.clone(),
                name: format!("{} {}", p.first_name, p.last_name)
                    .trim()
                    .to_owned(),
                at: now,
                account: p.account.clone(),
                kind: "Pay Bill",
            },
        );
        if let Some(reg) = registration.filter(|_| !s.behaviour().lose_c2b_confirmations) {
            let mut confirmation = body;
            confirmation["OrgAccountBalance"] = json!(format!("{}.00", 49_197 + p.amount));
            s.deliver(
                reg.confirmation_url,
                confirmation.to_string().into_bytes(),
                Vec::new(),
            );
        }
        Ok(PayBillOutcome {
            trans_id,
            outcome: "completed".into(),
            validation,
        })
    }
}

impl Sandbox {
    /// A paid M-Pesa Express push is an M-Pesa transaction like any other: Transaction Status
    /// knows its payer and time. On a paybill shortcode with C2B URLs registered it reaches the
    /// confirmation URL as well: `CustomerPayBillOnline`, its receipt as `TransID` and the
    /// push's `AccountReference` as `BillRefNumber`. A shortcode without registered URLs tells
    /// nobody.
    pub(crate) fn express_paid(&self, receipt: &str, amount: i64, phone: &str, account: &str) {
        let shortcode = self.config().shortcode.clone();
        let registration = {
            let mut c = lock(&self.0.c2b);
            c.paid.insert(
                receipt.to_owned(),
                Paid {
                    amount,
                    shortcode: shortcode.clone(),
                    msisdn: phone.to_owned(),
                    name: "John Doe".into(),
                    at: OffsetDateTime::now_utc(),
                    account: account.to_owned(),
                    kind: "CustomerPayBillOnline",
                },
            );
            c.registered.get(&shortcode).cloned()
        };
        let Some(reg) = registration else {
            return;
        };
        if self.behaviour().lose_c2b_confirmations {
            self.bump(|s| s.callbacks_dropped += 1);
            return;
        }
        let body = json!({
            "TransactionType": "CustomerPayBillOnline",
            "TransID": receipt,
            "TransTime": nairobi_stamp(OffsetDateTime::now_utc()),
            "TransAmount": format!("{amount}.00"),
            "BusinessShortCode": shortcode,
            "BillRefNumber": account,
            "InvoiceNumber": "",
            "OrgAccountBalance": format!("{}.00", 49_197 + amount),
            "ThirdPartyTransID": "",
            "MSISDN": masked(phone),
            "FirstName": "John",
            "MiddleName": "",
            "LastName": "Doe",
        });
        self.deliver(
            reg.confirmation_url,
            body.to_string().into_bytes(),
            Vec::new(),
        );
    }
}

impl Sandbox {
    /// Every M-Pesa payment completed to a shortcode of the simulator, oldest first: what the
    /// payers' SMS say and the organisation's statement lists, whether or not any message
    /// reached the office.
    pub fn mpesa_ledger(&self) -> Vec<LedgerEntry> {
        let mut entries: Vec<LedgerEntry> = lock(&self.0.c2b)
            .paid
            .iter()
            .map(|(receipt, p)| LedgerEntry {
                receipt: receipt.clone(),
                amount: p.amount,
                shortcode: p.shortcode.clone(),
                account: p.account.clone(),
                msisdn: p.msisdn.clone(),
                name: p.name.clone(),
                kind: p.kind.to_owned(),
                at: p
                    .at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
            })
            .collect();
        entries.sort_by(|a, b| (&a.at, &a.receipt).cmp(&(&b.at, &b.receipt)));
        entries
    }
}

/// Pull Transactions registration: `1000` the first time, `1001` after.
async fn pull_register(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    let shortcode = text(&body, "ShortCode").unwrap_or_default();
    if shortcode != s.config().shortcode {
        return bad_request("Invalid ShortCode");
    }
    if text(&body, "RequestType").as_deref() != Some("Pull") {
        return bad_request("Invalid RequestType");
    }
    let nominated = text(&body, "NominatedNumber").unwrap_or_default();
    if nominated.len() != 12 || !nominated.starts_with("254") {
        return bad_request("Invalid NominatedNumber");
    }
    let callback = text(&body, "CallBackURL").unwrap_or_default();
    if !(callback.starts_with("http://") || callback.starts_with("https://")) {
        return bad_request("Invalid CallBackURL");
    }
    let first = lock(&s.0.c2b).pull_registered.insert(shortcode.clone());
    let (code, words) = if first {
        (
            "1000",
            format!("Shortcode {shortcode} Registered Successfully"),
        )
    } else {
        (
            "1001",
            format!("Shortcode {shortcode} is already registered"),
        )
    };
    Json(
        json!({"ResponseRefID": format!("{}-pull", nairobi_stamp(OffsetDateTime::now_utc())),
        "ResponseStatus": code, "ShortCode": shortcode, "ResponseDescription": words}),
    )
    .into_response()
}

/// Pull Transactions over the simulator's ledger, as Daraja answers: HTTP 200 with its code
/// inside, a list of lists, amounts as strings and numbers as numbers; `1001` for a window
/// with nothing in it, an empty nested list past the last page. A shortcode not registered
/// gets `1002` (this simulator's own: Safaricom publishes no code for it).
async fn pull_query(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = check_token(&s, &headers) {
        return r;
    }
    let shortcode = text(&body, "ShortCode").unwrap_or_default();
    if !lock(&s.0.c2b).pull_registered.contains(&shortcode) {
        return Json(json!({"ResponseRefID": "pull", "ResponseCode": "1002",
            "ResponseMessage": format!("Shortcode {shortcode} is not registered for Pull")}))
        .into_response();
    }
    let window = |key: &str| {
        let t = text(&body, key)?;
        let format =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(&t, format)
            .ok()
            .map(|t| t.assume_offset(time::macros::offset!(+3)))
    };
    let (Some(from), Some(to)) = (window("StartDate"), window("EndDate")) else {
        return bad_request("Invalid StartDate or EndDate");
    };
    let offset: usize = match text(&body, "OffSetValue").map(|o| o.parse()) {
        Some(Ok(o)) => o,
        _ => return bad_request("Invalid OffSetValue"),
    };
    let size = usize::try_from(s.behaviour().pull_page_size.max(1)).unwrap_or(1);
    let mut listed: Vec<(String, Paid)> = lock(&s.0.c2b)
        .paid
        .iter()
        .filter(|(_, p)| {
            p.shortcode == shortcode && {
                // The window is written to the second; so is the time compared.
                let at = p.at.replace_nanosecond(0).unwrap_or(p.at);
                at >= from && at <= to
            }
        })
        .map(|(r, p)| (r.clone(), p.clone()))
        .collect();
    listed.sort_by(|a, b| (a.1.at, &a.0).cmp(&(b.1.at, &b.0)));
    if listed.is_empty() {
        return Json(json!({"ResponseRefID": "pull", "ResponseCode": "1001",
            "ResponseMessage": "No transactions found"}))
        .into_response();
    }
    let page: Vec<Value> = listed
        .iter()
        .skip(offset)
        .take(size)
        .map(|(receipt, p)| {
            json!({
                "transactionId": receipt,
                "trxDate": p.at.to_offset(time::macros::offset!(+3))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                "msisdn": p.msisdn.parse::<u64>().map(|n| json!(n)).unwrap_or_else(|_| json!(p.msisdn)),
                "sender": p.name,
                "transactiontype": if p.kind == "Pay Bill" { "c2b-pay-bill-debit" } else { "c2b-pay-bill-online-debit" },
                "billreference": p.account,
                "amount": format!("{}.0", p.amount),
                "organizationname": ORGANISATION,
            })
        })
        .collect();
    Json(
        json!({"ResponseRefID": "pull", "ResponseCode": "1000", "ResponseMessage": "Success",
        "Response": [page]}),
    )
    .into_response()
}

/// The simulator's ledger as the M-Pesa organisation portal's statement: the header block,
/// then the table whose header row begins `Receipt No.`, each payment paid in, and the
/// period's one business charge withdrawn.
fn statement_grid(s: &Sandbox) -> Vec<Vec<String>> {
    let entries = s.mpesa_ledger();
    let stamp = |at: &str| {
        OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
            .map(|t| {
                let t = t.to_offset(time::macros::offset!(+3));
                format!(
                    "{:02}-{:02}-{:04} {:02}:{:02}:{:02}",
                    t.day(),
                    u8::from(t.month()),
                    t.year(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_default()
    };
    let money = |shillings: i64| {
        let text = shillings.abs().to_string();
        let mut grouped = String::new();
        for (i, c) in text.chars().enumerate() {
            if i > 0 && (text.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{}{grouped}.00", if shillings < 0 { "-" } else { "" })
    };
    let opening = 49_197;
    let mut balance = opening;
    let first = entries.first().map(|e| stamp(&e.at)).unwrap_or_default();
    let last = entries.last().map(|e| stamp(&e.at)).unwrap_or_default();
    let mut table = vec![
        [
            "Receipt No.",
            "Completion Time",
            "Initiation Time",
            "Details",
            "Transaction Status",
            "Paid In",
            "Withdrawn",
            "Balance",
            "Balance Confirmed",
            "Reason Type",
            "Other Party Info",
            "Linked Transaction ID",
            "A/C No.",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    let shortcode = s.config().shortcode.clone();
    for e in entries.iter().filter(|e| e.shortcode == shortcode) {
        balance += e.amount;
        let party = format!("{} - {}", masked(&e.msisdn), e.name);
        let reason = if e.kind == "Pay Bill" {
            "Pay Bill"
        } else {
            "Pay Bill Online"
        };
        table.push(vec![
            e.receipt.clone(),
            stamp(&e.at),
            stamp(&e.at),
            format!("Pay Bill from {party} Acc. {}", e.account),
            "Completed".into(),
            money(e.amount),
            String::new(),
            money(balance),
            "true".into(),
            reason.into(),
            party,
            String::new(),
            e.account.clone(),
        ]);
    }
    if !entries.is_empty() {
        balance -= 50;
        table.push(vec![
            "SCH0000001".into(),
            last.clone(),
            last.clone(),
            "Business Charge".into(),
            "Completed".into(),
            String::new(),
            money(-50),
            money(balance),
            "true".into(),
            "Business Charge".into(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let mut grid: Vec<Vec<String>> = [
        ("Account Holder:", ORGANISATION.to_owned()),
        ("Short Code:", shortcode),
        ("Account:", "Utility Account".to_owned()),
        ("Time Period:", format!("{first} - {last}")),
        ("Currency:", "KES".to_owned()),
        ("Opening Balance:", money(opening)),
        ("Closing Balance:", money(balance)),
    ]
    .into_iter()
    .map(|(k, v)| vec![k.to_owned(), v])
    .collect();
    grid.push(Vec::new());
    grid.extend(table);
    grid
}

async fn statement_csv(State(s): State<Sandbox>) -> Response {
    let mut out = String::new();
    for row in statement_grid(&s) {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                if c.contains([',', '"']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    ([("content-type", "text/csv")], out).into_response()
}

/// The statement as an XLSX workbook, written part by part: amounts as number cells (as the
/// portal's spreadsheets hold them), everything else as text.
async fn statement_xlsx(State(s): State<Sandbox>) -> Response {
    match xlsx(&statement_grid(&s)) {
        Ok(bytes) => (
            [(
                "content-type",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

fn xml_text(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xlsx(grid: &[Vec<String>]) -> Result<Vec<u8>, String> {
    use std::io::Write;
    const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    const RELS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
    const DOC: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN}"><sheetData>"#
    );
    for (r, row) in grid.iter().enumerate() {
        sheet.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let at = format!(
                "{}{}",
                char::from(b'A' + u8::try_from(c).unwrap_or(0)),
                r + 1
            );
            let number = cell.replace(',', "");
            let is_amount = r > 8
                && (c == 5 || c == 6 || c == 7)
                && !number.is_empty()
                && number
                    .trim_start_matches('-')
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch == '.');
            if is_amount {
                sheet.push_str(&format!(r#"<c r="{at}"><v>{number}</v></c>"#));
            } else {
                sheet.push_str(&format!(
                    r#"<c r="{at}" t="inlineStr"><is><t>{}</t></is></c>"#,
                    xml_text(cell)
                ));
            }
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#
            .to_owned(),
        ),
        (
            "_rels/.rels",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{MAIN}" xmlns:r="{DOC}"><sheets><sheet name="Statement" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="{RELS}"><Relationship Id="rId1" Type="{DOC}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
            ),
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    ];
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in parts {
        out.start_file(name, options).map_err(|e| e.to_string())?;
        out.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}

async fn ledger(State(s): State<Sandbox>) -> Json<Vec<LedgerEntry>> {
    Json(s.mpesa_ledger())
}

async fn transaction_status(
    State(s): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = initiator_request(&s, &headers, &body, "TransactionStatusQuery") {
        return r;
    }
    if text(&body, "PartyA").as_deref() != Some(s.config().shortcode.as_str())
        || text(&body, "IdentifierType").as_deref() != Some("4")
    {
        return bad_request("Invalid PartyA");
    }
    let result_url = text(&body, "ResultURL").unwrap_or_default();
    if !(result_url.starts_with("http://") || result_url.starts_with("https://")) {
        return bad_request("Invalid ResultURL");
    }
    let receipt = text(&body, "TransactionID").unwrap_or_default();
    let now = OffsetDateTime::now_utc();
    let n = {
        let mut d = lock(&s.0.daraja);
        d.next += 1;
        d.next
    };
    let conversation = format!("AG_{}_{n:08}", nairobi_stamp(now));
    let originator = format!("{:05}-{n:08}-1", n % 100_000);
    let c2b = lock(&s.0.c2b).paid.get(&receipt).cloned();
    // Express payments are M-Pesa transactions too: their receipts are known.
    let express = lock(&s.0.daraja).paid.get(&receipt).copied();
    let found = match (c2b, express) {
        (Some(p), _) => Some(p),
        (None, Some((amount, _))) => Some(Paid {
            amount,
            shortcode: s.config().shortcode.clone(),
            msisdn: "254708374149".into(),
            name: "John Doe".into(),
            at: now,
            account: String::new(),
            kind: "CustomerPayBillOnline",
        }),
        (None, None) => None,
    };
    let result = match found {
        Some(p) => {
            let organisation = if p.shortcode == s.config().shortcode {
                ORGANISATION.to_owned()
            } else {
                "Another Business".to_owned()
            };
            json!({"Result": {
                "ConversationID": conversation,
                "OriginatorConversationID": originator,
                "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "ResultParameters": {"ResultParameter": [
                    {"Key": "DebitPartyName", "Value": format!("{} - {}", masked(&p.msisdn), p.name)},
                    {"Key": "CreditPartyName", "Value": format!("{} - {organisation}", p.shortcode)},
                    {"Key": "OriginatorConversationID", "Value": originator},
                    {"Key": "InitiatedTime", "Value": nairobi_stamp(p.at)},
                    {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
                    {"Key": "DebitPartyCharges"},
                    {"Key": "TransactionReason"},
                    {"Key": "ReasonType", "Value": "Pay Bill Online"},
                    {"Key": "TransactionStatus", "Value": "Completed"},
                    {"Key": "FinalisedTime", "Value": nairobi_stamp(p.at)},
                    {"Key": "Amount", "Value": format!("{}.00", p.amount)},
                    {"Key": "ConversationID", "Value": conversation},
                    {"Key": "ReceiptNo", "Value": receipt},
                ]},
                "ResultType": 0,
                "TransactionID": format!("{}0000000", &receipt.chars().take(3).collect::<String>()),
            }})
        }
        None => json!({"Result": {
            "ConversationID": conversation,
            "OriginatorConversationID": originator,
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}},
            "ResultCode": "R000001",
            "ResultDesc": "The transaction receipt number does not exist.",
            "ResultType": 0,
            "TransactionID": "0000000000",
        }}),
    };
    let unanswered = {
        let mut b = lock(&s.0.behaviour);
        if b.status_unanswered_next > 0 {
            b.status_unanswered_next -= 1;
            true
        } else {
            false
        }
    };
    if !unanswered {
        let me = s.clone();
        let delay = Duration::from_millis(s.behaviour().customer_delay_ms.min(2000));
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            me.deliver(result_url, result.to_string().into_bytes(), Vec::new());
        });
    }
    Json(json!({
        "OriginatorConversationID": originator,
        "ConversationID": conversation,
        "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_masked_as_current_callbacks_mask_them() {
        assert_eq!(super::masked("254708374149"), "25470****149");
    }
}

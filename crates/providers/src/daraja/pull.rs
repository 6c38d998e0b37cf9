//! Pull Transactions: Safaricom's own list of the C2B payments to a shortcode in the last 48
//! hours, for payments whose confirmation never arrived.
//!
//! Read as Daraja really answers it: HTTP 200 with a failure code inside; `1000` success;
//! "nothing in this window" as `1001` or as an empty (possibly nested) list; `Response` as a
//! list of transactions or a list of lists; amounts as strings or numbers; `msisdn` as a
//! number, a string, or masked.

use malipo_domain::{Currency, Money, Msisdn};
use serde::Serialize;
use serde_json::Value;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{DarajaClient, DarajaError, NAIROBI};

/// The most transactions read from one window, as a bound on a provider that never stops
/// paging.
const MAX_PAGES: usize = 1000;

/// How Daraja answered a Pull registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRegistration {
    /// `true` for `1001`: the shortcode was registered before.
    pub already: bool,
    /// Safaricom's words.
    pub description: String,
}

/// One C2B payment as Pull Transactions lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The M-Pesa code (`transactionId`).
    pub trans_id: String,
    pub at: OffsetDateTime,
    pub amount: Money,
    /// The account the customer typed (`billreference`); empty for Buy Goods.
    pub account: String,
    /// The payer's number as given (perhaps masked).
    pub msisdn: String,
    /// `sender`: the payer's name, when Safaricom gives one.
    pub sender: String,
    /// `transactiontype`, e.g. `c2b-pay-bill-debit`.
    pub kind: String,
}

#[derive(Serialize)]
struct RegisterRequest<'a> {
    #[serde(rename = "ShortCode")]
    short_code: &'a str,
    #[serde(rename = "RequestType")]
    request_type: &'a str,
    #[serde(rename = "NominatedNumber")]
    nominated_number: &'a str,
    #[serde(rename = "CallBackURL")]
    callback_url: &'a str,
}

#[derive(Serialize)]
struct QueryRequest<'a> {
    #[serde(rename = "ShortCode")]
    short_code: &'a str,
    #[serde(rename = "StartDate")]
    start_date: String,
    #[serde(rename = "EndDate")]
    end_date: String,
    #[serde(rename = "OffSetValue")]
    offset: String,
}

/// A string field whichever way it came (string or number), trimmed.
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_owned()),
        // A whole number as its digits (a phone number may come so); a fraction as written
        // when it is plain (`20.5`). A number only an exponent can write (`2.5e39`) is no
        // amount or phone Safaricom sends, and its digits would depend on how it was read.
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Some(u.to_string()),
            (None, Some(i)) => Some(i.to_string()),
            (None, None) => Some(n.to_string()).filter(|t| !t.contains(['e', 'E'])),
        },
        _ => None,
    }
}

/// The answer's code: `ResponseCode`, else `ResponseStatus` (the registration's name for it).
fn code_of(v: &Value) -> String {
    text(v, "ResponseCode")
        .or_else(|| text(v, "ResponseStatus"))
        .unwrap_or_default()
}

fn words_of(v: &Value) -> String {
    text(v, "ResponseMessage")
        .or_else(|| text(v, "ResponseDescription"))
        .unwrap_or_default()
}

/// `trxDate` as Daraja writes it: RFC 3339 (`2020-08-27T11:02:31Z`,
/// `2019-09-10T11:40:56.000+03:00`), or `YYYY-MM-DD HH:MM:SS` in Nairobi time.
fn read_time(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let plain = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, plain)
        .or_else(|_| PrimitiveDateTime::parse(text, local))
        .ok()
        .map(|t| t.assume_offset(NAIROBI))
}

/// The window's bound as Pull takes it: `YYYY-MM-DD HH:MM:SS`, Nairobi time.
fn write_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(NAIROBI);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// One transaction of a Pull answer, or why it cannot be read.
fn read_one(v: &Value) -> Result<Pulled, String> {
    let trans_id = text(v, "transactionId")
        .map(|t| t.to_ascii_uppercase())
        .filter(|t| super::c2b::is_receipt_number(t))
        .ok_or_else(|| "a transaction without a readable transactionId".to_owned())?;
    let at = text(v, "trxDate")
        .as_deref()
        .and_then(read_time)
        .ok_or_else(|| format!("{trans_id} has no readable trxDate"))?;
    let amount = text(v, "amount")
        .and_then(|a| Money::parse(&a, Currency::Kes).ok())
        .filter(|a| a.minor() > 0)
        .ok_or_else(|| format!("{trans_id} has no readable amount"))?;
    let printable = |s: String| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect::<String>()
    };
    Ok(Pulled {
        trans_id,
        at,
        amount,
        account: printable(text(v, "billreference").unwrap_or_default()),
        msisdn: printable(text(v, "msisdn").unwrap_or_default()),
        sender: printable(text(v, "sender").unwrap_or_default()),
        kind: printable(text(v, "transactiontype").unwrap_or_default()),
    })
}

/// The transactions of one Pull answer; `Ok(vec![])` when Safaricom says the window holds
/// none. A transaction that cannot be read fails the whole page, so nothing is skipped
/// silently.
pub fn read_page(body: &Value) -> Result<Vec<Pulled>, DarajaError> {
    let code = code_of(body);
    match code.as_str() {
        "1000" | "0" => {}
        "1001" => return Ok(Vec::new()),
        _ => {
            return Err(DarajaError::Provider {
                status: 200,
                code,
                message: words_of(body),
            });
        }
    }
    let mut items = Vec::new();
    let mut stack: Vec<&Value> = match body.get("Response") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(v) => vec![v],
    };
    while let Some(v) = stack.pop() {
        match v {
            Value::Array(list) => stack.extend(list.iter().rev()),
            Value::Object(_) => items.push(read_one(v).map_err(DarajaError::Unexpected)?),
            _ => {
                return Err(DarajaError::Unexpected(
                    "a Pull answer lists something other than transactions".into(),
                ));
            }
        }
    }
    Ok(items)
}

impl DarajaClient {
    /// Registers this office's shortcode for Pull Transactions, with `nominated` (a Safaricom
    /// number of the business) and the URL Safaricom notifies.
    pub async fn register_pull(
        &self,
        nominated: &Msisdn,
        callback_url: &str,
    ) -> Result<PullRegistration, DarajaError> {
        let request = RegisterRequest {
            short_code: &self.config.shortcode,
            request_type: "Pull",
            nominated_number: nominated.as_str(),
            callback_url,
        };
        let answer: Value = self.post("/pulltransactions/v1/register", &request).await?;
        let code = code_of(&answer);
        let description = words_of(&answer);
        match code.as_str() {
            "1000" | "0" => Ok(PullRegistration {
                already: false,
                description,
            }),
            "1001" => Ok(PullRegistration {
                already: true,
                description,
            }),
            _ => Err(DarajaError::Provider {
                status: 200,
                code,
                message: description,
            }),
        }
    }

    /// Every C2B payment Safaricom lists for this shortcode between `from` and `to`, following
    /// `OffSetValue` page by page until a page is empty.
    pub async fn pull(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Pulled>, DarajaError> {
        let mut all: Vec<Pulled> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let request = QueryRequest {
                short_code: &self.config.shortcode,
                start_date: write_time(from),
                end_date: write_time(to),
                offset: all.len().to_string(),
            };
            let answer: Value = self.post("/pulltransactions/v1/query", &request).await?;
            let page = read_page(&answer)?;
            // A page of nothing new (Daraja ignoring the offset and answering the first page
            // again) ends the window as surely as an empty one, instead of asking 1,000 times.
            let before = all.len();
            for p in page {
                if seen.insert(p.trans_id.clone()) {
                    all.push(p);
                }
            }
            if all.len() == before {
                return Ok(all);
            }
        }
        Err(DarajaError::Unexpected(format!(
            "Pull Transactions was still paging after {MAX_PAGES} pages"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kes(shillings: i64) -> Money {
        Money::from_minor(shillings * 100, Currency::Kes).unwrap()
    }

    #[test]
    fn every_shape_daraja_answers_reads_the_same() {
        let one = json!({"transactionId": "OHR7RD2OUH", "trxDate": "2020-08-27T11:02:31Z",
            "msisdn": 254722000000_u64, "sender": "UAT2", "transactiontype": "c2b-pay-bill-debit",
            "billreference": "37207205", "amount": "20.0", "organizationname": "Daraja Pull API Test"});
        for response in [
            json!([[one.clone()]]),
            json!([one.clone()]),
            json!([[], [one.clone()]]),
        ] {
            let body = json!({"ResponseRefID": "1", "ResponseCode": "1000",
                "ResponseMessage": "Success", "Response": response});
            let page = read_page(&body).unwrap();
            assert_eq!(page.len(), 1, "{body}");
            assert_eq!(page[0].trans_id, "OHR7RD2OUH");
            assert_eq!(page[0].amount, kes(20));
            assert_eq!(
                page[0].msisdn, "254722000000",
                "a number read as its digits"
            );
            assert_eq!(page[0].account, "37207205");
            assert_eq!(page[0].at.unix_timestamp(), 1_598_526_151);
        }
        let masked = json!({"ResponseCode": 1000, "Response": [[{"transactionId": "ohr7rd2ouj",
            "trxDate": "2019-09-10T11:40:56.000+03:00", "msisdn": "2547****000",
            "billreference": "POL-1", "amount": 1500}]]});
        let page = read_page(&masked).unwrap();
        assert_eq!(page[0].trans_id, "OHR7RD2OUJ");
        assert_eq!(page[0].msisdn, "2547****000");
        assert_eq!(page[0].amount, kes(1500));
        assert_eq!(page[0].at.unix_timestamp(), 1_568_104_856);
    }

    #[test]
    fn nothing_in_a_window_is_an_empty_page_and_a_failure_inside_200_is_an_error() {
        for body in [
            json!({"ResponseCode": "1001", "ResponseMessage": "No transactions found"}),
            json!({"ResponseCode": "1000", "Response": [[]]}),
            json!({"ResponseCode": "1000", "Response": []}),
            json!({"ResponseCode": "1000"}),
        ] {
            assert_eq!(read_page(&body).unwrap(), Vec::new(), "{body}");
        }
        let refused = read_page(&json!({"ResponseCode": "1002",
            "ResponseMessage": "Shortcode not registered for pull"}))
        .unwrap_err();
        assert_eq!(
            refused,
            DarajaError::Provider {
                status: 200,
                code: "1002".into(),
                message: "Shortcode not registered for pull".into()
            }
        );
        let unreadable = read_page(&json!({"ResponseCode": "1000", "Response": [[{
            "transactionId": "OHR7RD2OUH", "trxDate": "yesterday", "amount": "20"}]]}))
        .unwrap_err();
        assert!(unreadable.to_string().contains("trxDate"), "{unreadable}");
        let hostile = read_page(&json!({"ResponseCode": "1000", "Response": [[{
            "transactionId": "x".repeat(10_000), "trxDate": "2020-08-27T11:02:31Z", "amount": "20"}]]}))
        .unwrap_err();
        assert!(hostile.to_string().len() < 200, "not echoed: {hostile}");
    }

    /// A Daraja answering OAuth, and Pull with `page()`; its address.
    async fn serve_pull(page: impl Fn() -> Value + Clone + Send + Sync + 'static) -> String {
        let router = axum::Router::new()
            .route(
                "/oauth/v1/generate",
                axum::routing::get(|| async {
                    axum::Json(json!({"access_token": "token", "expires_in": "3599"}))
                }),
            )
            .route(
                "/pulltransactions/v1/query",
                axum::routing::post(move || {
                    let page = page.clone();
                    async move { axum::Json(page()) }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    /// A Daraja that ignores `OffSetValue` and answers the same page every time: the window
    /// ends after the second ask, with each payment once.
    #[tokio::test]
    async fn a_pull_that_answers_the_same_page_again_stops() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        let router = serve_pull(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            json!({"ResponseCode": "1000", "Response": [[{"transactionId": "OHR7RD2OUH",
                "trxDate": "2020-08-27T11:02:31Z", "msisdn": 254722000000_u64,
                "billreference": "POL-1", "amount": "20.0"}]]})
        })
        .await;
        let client = DarajaClient::new(super::super::DarajaConfig::new(
            &router,
            "key",
            malipo_domain::Secret::new("secret"),
            "174379",
            malipo_domain::Secret::new("passkey"),
            "https://relay.example/hooks/d/x",
        ));
        let now = OffsetDateTime::now_utc();
        let all = client
            .pull(now - time::Duration::hours(2), now)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(asked.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn window_bounds_are_written_in_nairobi_time() {
        let t = OffsetDateTime::from_unix_timestamp(1_598_526_151).unwrap();
        assert_eq!(write_time(t), "2020-08-27 14:02:31");
        assert_eq!(read_time("2020-08-27 14:02:31"), Some(t));
    }
}

//! The page a receipt's QR code opens: it confirms the receipt's number, amount and date when
//! the link's signature is genuine, and says plainly that it cannot when it is not.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::ReceiptKeyKind;
use crate::{Relay, internal};

/// Escapes text for HTML.
fn html_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;\
         margin:2rem auto;padding:0 1rem;color:#111}}h1{{font-size:1.4rem}}\
         dt{{color:#555}}dd{{margin:0 0 .6rem;font-weight:600}}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    (
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
        ],
        page,
    )
        .into_response()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) async fn verify_receipt(
    State(Relay { store, sealing, .. }): State<Relay>,
    Path((key, receipt, amount, date, signature)): Path<(String, String, String, String, String)>,
) -> Response {
    use malipo_domain::verification;
    let refused = || {
        page(
            StatusCode::NOT_FOUND,
            "This receipt could not be verified",
            "<p>The link does not match any receipt this company issued: the receipt may have \
             been altered. Ask the office that issued it to confirm the payment.</p>",
        )
    };
    let Some(path) = verification::parse(&key, &receipt, &amount, &date, &signature) else {
        return refused();
    };
    let keys = match store.receipt_keys(&path.key_id).await {
        Ok(k) => k,
        Err(e) => return internal(&e),
    };
    let v = &path.vouched;
    let day_of =
        |ms: i64| malipo_domain::time_zone::nairobi_date(malipo_domain::time_zone::from_ms(ms));
    let genuine = keys.iter().find(|k| {
        // A revoked device's receipts count only if dated before its revocation.
        if k.revoked_at.is_some_and(|at| v.date > day_of(at)) {
            return false;
        }
        match &k.key {
            ReceiptKeyKind::Sealed(sealed) => sealing
                .as_ref()
                .and_then(|s| s.open(sealed).ok())
                .is_some_and(|key| verification::verify(key.expose(), v, &path.signature)),
            ReceiptKeyKind::Legacy { token_hash, until } => {
                v.date <= day_of(*until) && verification::verify(token_hash, v, &path.signature)
            }
        }
    });
    let Some(company) = genuine.map(|k| &k.company) else {
        return refused();
    };
    let day = format!(
        "{} {} {}",
        v.date.day(),
        MONTHS[usize::from(u8::from(v.date.month())) - 1],
        v.date.year()
    );
    page(
        StatusCode::OK,
        "Genuine receipt",
        &format!(
            "<p>{} issued this receipt.</p><dl><dt>Receipt number</dt><dd>{}</dd>\
             <dt>Amount</dt><dd>{}</dd><dt>Date</dt><dd>{}</dd></dl>",
            html_text(company),
            html_text(&v.receipt_number),
            html_text(&v.amount.to_string()),
            day
        ),
    )
}

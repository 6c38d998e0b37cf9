//! The provider clients against the published payloads and the simulator.
//!
//! - fixtures: every Daraja and Paystack fixture parses (or is refused) as documented
//! - requests: what the clients send matches the published samples field by field
//! - daraja: token caching and refresh, every STK scenario, typed errors, reversals
//! - paystack: checkout to verify, declines, saved cards, refunds, the list, webhooks

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use malipo_domain::{Currency, Email, FailureKind, Money, Msisdn, Secret};
use malipo_providers::daraja::{
    self, DarajaClient, DarajaConfig, DarajaError, Initiator, MpesaAmount, QueryResult,
    ShortcodeKind, StkOutcome,
};
use malipo_providers::paystack::{
    self, CardStatus, ListQuery, PaystackClient, PaystackConfig, PaystackError, WebhookError,
    WebhookEvent,
};
use malipo_sandbox::{Behaviour, Config as SandboxConfig, Running};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json_fixture(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn kes(major: i64) -> Money {
    Money::from_major(major, Currency::Kes).unwrap()
}

fn mpesa(major: i64) -> MpesaAmount {
    MpesaAmount::new(kes(major)).unwrap()
}

/// The JSON type of each key, to compare a request with a published sample.
fn shape(v: &Value) -> BTreeMap<String, &'static str> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let t = match v {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                Value::Null => "null",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            (k.clone(), t)
        })
        .collect()
}

async fn sandbox(webhook_url: Option<String>) -> Running {
    let config = SandboxConfig {
        paystack_webhook_url: webhook_url,
        public_url: String::new(),
        ..SandboxConfig::default()
    };
    let running = malipo_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    running.sandbox.set_behaviour(Behaviour {
        customer_delay_ms: 100,
        ..Behaviour::default()
    });
    running
}

fn daraja_config(url: &str) -> DarajaConfig {
    let c = SandboxConfig::default();
    let mut config = DarajaConfig::new(
        url,
        &c.consumer_key,
        Secret::new(c.consumer_secret),
        &c.shortcode,
        Secret::new(c.passkey),
        "http://127.0.0.1:9/daraja/callback",
    );
    config.initiator = Some(Initiator {
        name: c.initiator_name,
        password: Secret::new(c.initiator_password),
        certificate: malipo_sandbox::SIMULATOR_CERT_PEM.as_bytes().to_vec(),
    });
    config
}

fn paystack_client(url: &str) -> PaystackClient {
    PaystackClient::new(PaystackConfig::new(
        url,
        Secret::new(SandboxConfig::default().paystack_secret),
    ))
}

mod fixtures {
    use super::*;

    /// Both published C2B shapes (current, with a masked number; 2017, with a full one) read as
    /// one payment; bad bodies are refused with the field.
    #[test]
    fn c2b_payments_read_from_both_published_shapes() {
        let p = daraja::c2b::parse_payment(&fixture("daraja_c2b_confirmation.json")).unwrap();
        assert_eq!(
            (
                p.trans_id.as_str(),
                p.amount,
                p.shortcode.as_str(),
                p.account.as_str()
            ),
            ("RKTQDM7W6S", kes(10), "600638", "invoice008")
        );
        assert_eq!(
            (p.msisdn.as_str(), p.payer.as_str()),
            ("25470****149", "John Doe")
        );
        assert_eq!(
            p.made_at(),
            Some(time::macros::datetime!(2019-11-22 06:38:45 +3))
        );
        let old =
            daraja::c2b::parse_payment(&fixture("daraja_c2b_confirmation_2017.json")).unwrap();
        assert_eq!((old.amount, old.msisdn.as_str()), (kes(10), "254708374149"));
        for (body, field) in [
            (
                r#"{"TransID":"X","TransAmount":"10","BusinessShortCode":"600638"}"#,
                "TransID",
            ),
            (
                r#"{"TransID":"RKTQDM7W6S","TransAmount":"-5","BusinessShortCode":"600638"}"#,
                "TransAmount",
            ),
            (
                r#"{"TransID":"RKTQDM7W6S","TransAmount":"10","BusinessShortCode":"60; DROP"}"#,
                "BusinessShortCode",
            ),
            (r#"{"Body":{}}"#, "not a C2B payment"),
        ] {
            let err = daraja::c2b::parse_payment(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(field), "{body}: {err}");
        }
        assert_eq!(daraja::c2b::account_key(" mtr 2291 "), "MTR2291");
        assert_eq!(daraja::c2b::account_key("MTR-2291"), "MTR2291");
        assert_eq!(daraja::c2b::account_key("mtr/22.91"), "MTR2291");
    }

    /// The published Transaction Status result proves a payment only of its receipt, amount
    /// and shortcode; every mismatch says which.
    #[test]
    fn a_transaction_status_result_confirms_only_what_it_names() {
        let body = fixture("daraja_transaction_status_result.json");
        assert!(daraja::c2b::looks_like_status_result(&body));
        let r = daraja::c2b::parse_status_result(&body).unwrap();
        assert_eq!(r.receipt.as_deref(), Some("MBN31H462N"));
        assert_eq!(r.payer().as_deref(), Some("John Doe"));
        assert_eq!(r.payer_number(), Some("254708374149"));
        assert_eq!(
            r.finished_at.map(|t| t.unix_timestamp()),
            Some(1_519_353_672),
            "FinalisedTime 20180223054112 is 05:41:12 in Nairobi, 02:41:12 UTC"
        );
        assert_eq!(r.confirms("MBN31H462N", kes(300), "600310"), None);
        for (receipt, amount, shortcode, says) in [
            ("MBN31H462X", 300, "600310", "instead"),
            ("MBN31H462N", 301, "600310", "not KES 301.00"),
            ("MBN31H462N", 300, "174379", "not shortcode 174379"),
        ] {
            let why = r.confirms(receipt, kes(amount), shortcode).unwrap();
            assert!(why.contains(says), "{why}");
        }
        let unknown = br#"{"Result":{"ResultType":0,"ResultCode":"R000001","ResultDesc":"The transaction does not exist","OriginatorConversationID":"1-2-3","ConversationID":"AG_1","TransactionID":"0000000000"}}"#;
        let r = daraja::c2b::parse_status_result(unknown).unwrap();
        assert!(!r.found());
        assert!(
            r.confirms("RKTQDM7W6S", kes(10), "600638")
                .unwrap()
                .contains("does not confirm")
        );
        assert!(!daraja::c2b::looks_like_status_result(&fixture(
            "daraja_stk_callback_success.json"
        )));
    }

    /// The set-up check reads a certificate as the portal serves it (PEM or DER), and names
    /// what a wrong download is instead.
    #[test]
    fn certificate_files_are_read_in_either_encoding_and_wrong_downloads_are_named() {
        use base64::Engine;
        let pem = malipo_sandbox::SIMULATOR_CERT_PEM;
        let facts = daraja::certificate_facts(pem.as_bytes()).unwrap();
        assert_eq!(facts.subject, "malipo-sandbox simulator (not Safaricom)");
        assert!(facts.not_before < facts.not_after);
        assert_eq!(facts.not_after.year(), 2126);
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(
            daraja::certificate_facts(&der).unwrap(),
            facts,
            "a DER .cer file"
        );
        let page = b"<!DOCTYPE html><html lang=\"en\"><head><title>Daraja - Safaricom Developers' Portal</title>";
        let err = daraja::certificate_facts(page).unwrap_err();
        assert!(err.contains("web page"), "{err}");
        let err = daraja::certificate_facts(b"not a certificate at all").unwrap_err();
        assert!(err.contains("neither a PEM nor a DER"), "{err}");
        let broken = pem.replace('M', "N");
        assert!(daraja::certificate_facts(broken.as_bytes()).is_err());
    }

    #[test]
    fn every_successful_stk_callback_fixture_parses_with_amount_and_receipt() {
        for (file, amount, receipt) in [
            ("daraja_stk_callback_success.json", kes(1), "NLJ7RT61SV"),
            (
                "daraja_stk_callback_success_with_balance_item.json",
                kes(1),
                "LGR7OWQX0R",
            ),
        ] {
            let cb = daraja::callback::parse(&fixture(file)).unwrap();
            match cb.outcome {
                StkOutcome::Paid {
                    amount: a,
                    receipt: r,
                    ..
                } => {
                    assert_eq!((a, r.as_str()), (amount, receipt), "{file}");
                }
                other => panic!("{file}: {other:?}"),
            }
        }
        let cb = daraja::callback::parse(&fixture("daraja_stk_callback_success.json")).unwrap();
        assert_eq!(cb.checkout_request_id, "ws_CO_191220191020363925");
        assert!(
            matches!(cb.outcome, StkOutcome::Paid { ref transaction_date, ref phone, .. }
            if transaction_date.as_deref() == Some("20191219102115") && phone.as_deref() == Some("254708374149"))
        );
    }

    #[test]
    fn every_failed_stk_callback_fixture_maps_to_a_status_and_a_message() {
        for (file, kind, code) in [
            (
                "daraja_stk_callback_cancelled_1032.json",
                FailureKind::Cancelled,
                "1032",
            ),
            (
                "daraja_stk_callback_timeout_1037_DERIVED.json",
                FailureKind::TimedOut,
                "1037",
            ),
            (
                "daraja_stk_callback_insufficient_funds_1_DERIVED.json",
                FailureKind::Failed,
                "1",
            ),
            (
                "daraja_stk_callback_wrong_till_SFC_IC0003.json",
                FailureKind::Failed,
                "SFC_IC0003",
            ),
        ] {
            let cb = daraja::callback::parse(&fixture(file)).unwrap();
            let StkOutcome::NotPaid(f) = cb.outcome else {
                panic!("{file} is not a failure")
            };
            assert_eq!((f.kind, f.code.as_str()), (kind, code), "{file}");
            assert!(!f.message.is_empty());
        }
    }

    #[test]
    fn malformed_callbacks_are_refused_with_a_reason() {
        let cases: [(&str, &str); 6] = [
            ("{}", "not an STK callback"),
            ("not json", "not an STK callback"),
            (
                r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_1","ResultCode":1.5,"ResultDesc":"x"}}}"#,
                "ResultCode",
            ),
            (
                r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_1","ResultCode":0,"ResultDesc":"ok"}}}"#,
                "lacks Amount",
            ),
            (
                r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_1","ResultCode":0,"ResultDesc":"ok","CallbackMetadata":{"Item":[{"Name":"Amount","Value":1.005},{"Name":"MpesaReceiptNumber","Value":"ABC"}]}}}}"#,
                "Amount",
            ),
            (
                r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"","ResultCode":1032,"ResultDesc":"x"}}}"#,
                "CheckoutRequestID",
            ),
        ];
        for (body, why) in cases {
            let err = daraja::callback::parse(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(why), "{body}: {err}");
        }
    }

    #[test]
    fn paystack_signatures_match_the_computed_vectors_and_reserialised_bodies_fail() {
        let v = json_fixture("paystack_signature_vectors_SELFCOMPUTED.json");
        let secret = Secret::new(v["secret_key"].as_str().unwrap());
        let body1 = fixture("paystack_webhook_charge_success.json");
        paystack::verify_signature(
            &secret,
            &body1,
            v["vector_1"]["x-paystack-signature"].as_str(),
        )
        .unwrap();
        let body2 = v["vector_2"]["body_exact_bytes"]
            .as_str()
            .unwrap()
            .as_bytes()
            .to_vec();
        let sig2 = v["vector_2"]["x-paystack-signature"].as_str();
        paystack::verify_signature(&secret, &body2, sig2).unwrap();
        assert_eq!(Some(paystack::signature(&secret, &body2).as_str()), sig2);
        assert_eq!(
            Some(paystack::signature(&secret, &body1).as_str()),
            v["vector_1"]["x-paystack-signature"].as_str()
        );
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body2).unwrap()).unwrap();
        assert_eq!(
            paystack::verify_signature(&secret, &pretty, sig2),
            Err(WebhookError::BadSignature),
            "same JSON, other bytes"
        );
        assert_eq!(
            paystack::verify_signature(&Secret::new("sk_test_other"), &body2, sig2),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            paystack::verify_signature(&secret, &body2, None),
            Err(WebhookError::NoSignature)
        );
        assert_eq!(
            paystack::verify_signature(&secret, &body2, Some("zz")),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn a_webhook_in_a_currency_malipo_does_not_price_is_kept_for_review_not_refused() {
        for (file, event) in [
            ("paystack_webhook_charge_success.json", "charge.success"),
            ("paystack_webhook_refund_processed.json", "refund.processed"),
        ] {
            let body = String::from_utf8(fixture(file)).unwrap();
            let xof = body
                .replacen("\"NGN\"", "\"XOF\"", 1)
                .replacen("\"GHS\"", "\"XOF\"", 1);
            assert_ne!(xof, body, "{file} names a currency");
            match paystack::parse_event(xof.as_bytes()).unwrap() {
                WebhookEvent::Unpriced(u) => {
                    assert_eq!((u.event.as_str(), u.currency.as_str()), (event, "XOF"));
                    assert!(!u.reference.is_empty());
                }
                other => panic!("{file}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_paystack_webhook_fixture_parses() {
        let WebhookEvent::ChargeSuccess(t) =
            paystack::parse_event(&fixture("paystack_webhook_charge_success.json")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (t.reference.as_str(), t.amount, t.id),
            (
                "qTPrJoy9Bx",
                Money::from_minor(10_000, Currency::Ngn).unwrap(),
                302_961
            )
        );
        assert_eq!(t.status, CardStatus::Paid);
        let card = t.card.unwrap();
        assert_eq!(
            (card.brand.as_str(), card.last4.as_str(), card.reusable),
            ("mastercard", "8877", false),
            "metadata 0 and a missing reusable are tolerated"
        );
        let WebhookEvent::ChargeSuccess(m) = paystack::parse_event(&fixture(
            "paystack_webhook_charge_success_mobile_money.json",
        ))
        .unwrap() else {
            panic!()
        };
        assert_eq!(m.amount.currency(), Currency::Ghs);
        // Mobile money is not a card: recorded with its channel and what paid, never kept as a
        // card with brand "Mtn mobile money" and last four "X149".
        assert_eq!(m.channel.as_deref(), Some("mobile_money"));
        assert!(m.card.is_none(), "{:?}", m.card);
        assert_eq!(m.instrument.as_deref(), Some("MTN Mobile Money"));
        assert_eq!(t.channel.as_deref(), Some("card"));
        for (file, status, minor) in [
            ("paystack_webhook_refund_processed.json", "processed", 5000),
            ("paystack_webhook_refund_pending.json", "pending", -1),
            ("paystack_webhook_refund_processing.json", "processing", -1),
            ("paystack_webhook_refund_failed.json", "failed", -1),
            (
                "paystack_webhook_refund_needs_attention.json",
                "needs-attention",
                5306,
            ),
        ] {
            let WebhookEvent::Refund(r) = paystack::parse_event(&fixture(file)).unwrap() else {
                panic!("{file}")
            };
            assert_eq!(r.status, status, "{file}");
            if minor >= 0 {
                assert_eq!(
                    r.amount.minor(),
                    minor,
                    "{file}: amounts come as strings or numbers"
                );
            }
        }
        assert_eq!(
            paystack::parse_event(br#"{"event":"transfer.success","data":{}}"#).unwrap(),
            WebhookEvent::Other("transfer.success".into())
        );
        assert!(
            paystack::parse_event(br#"{"event":"charge.success","data":{"amount":1.5}}"#).is_err()
        );
    }

    #[test]
    fn published_requests_and_ours_have_the_same_fields_and_types() {
        let client = DarajaClient::new(daraja_config("http://127.0.0.1:9"));
        let at = time::macros::datetime!(2021-06-28 06:24:08 UTC);
        let ours = client
            .stk_push_request(
                mpesa(1),
                &Msisdn::parse("254722111111").unwrap(),
                "accountref",
                "txndesc",
                at,
            )
            .unwrap();
        let ours = serde_json::to_value(&ours).unwrap();
        let published = json_fixture("daraja_stk_push_request.json");
        assert_eq!(shape(&ours), shape(&published), "STK push request");
        assert_eq!(
            ours["Password"], published["Password"],
            "same shortcode, passkey and timestamp give the same password"
        );
        assert_eq!(ours["Timestamp"], published["Timestamp"]);

        let till = DarajaClient::new(DarajaConfig {
            kind: ShortcodeKind::Till {
                till: "174380".into(),
            },
            ..daraja_config("http://127.0.0.1:9")
        });
        let buy = till
            .stk_push_request(
                mpesa(1),
                &Msisdn::parse("0722111111").unwrap(),
                "ref",
                "desc",
                at,
            )
            .unwrap();
        assert_eq!(
            (
                buy.transaction_type.as_str(),
                buy.party_b.as_str(),
                buy.business_short_code
            ),
            ("CustomerBuyGoodsOnline", "174380", 174_379)
        );

        let query =
            serde_json::to_value(client.stk_query_request("ws_CO_260520211133524545", at)).unwrap();
        let published = json_fixture("daraja_stk_query_request.json");
        assert_eq!(shape(&query), shape(&published), "STK Push Query request");
        assert_eq!(query["CheckoutRequestID"], published["CheckoutRequestID"]);

        let status = serde_json::to_value(client.status_request("nef61h8j60").unwrap()).unwrap();
        let published = json_fixture("daraja_transaction_status_request.json");
        let mut expected = shape(&published);
        // The published sample also names the conversation of a transaction Malipo started,
        // which Malipo never asks by: it asks by receipt number.
        expected.remove("OriginalConversationID");
        assert_eq!(shape(&status), expected, "Transaction Status request");
        assert_eq!(status["TransactionID"], "NEF61H8J60");
        assert_eq!(status["CommandID"], published["CommandID"]);
        assert_eq!(
            status["IdentifierType"], published["IdentifierType"],
            "4: a shortcode"
        );
        assert!(client.status_request("not a code!").is_err());

        // Ratiba: the portal's fields, plus CustomStoId (ours, echoed back as requestRefID).
        let order = malipo_providers::daraja::ratiba::StandingOrder {
            name: "Test Standing Order".into(),
            phone: Msisdn::parse("254708374149").unwrap(),
            amount: mpesa(4500),
            frequency: malipo_domain::schedule::Frequency::Monthly,
            start: time::macros::date!(2024 - 09 - 05),
            end: time::macros::date!(2025 - 09 - 05),
            account_reference: "Test".into(),
            description: "Test".into(),
            request_ref: "bae4ef32-3fb1-4998-988b-0063884a3d80".into(),
        };
        let ratiba = serde_json::to_value(client.standing_order_request(&order).unwrap()).unwrap();
        let published = json_fixture("daraja_ratiba_request.json");
        let mut expected = shape(&published);
        expected.insert("CustomStoId".into(), "string");
        assert_eq!(shape(&ratiba), expected, "Ratiba request");
        for same in [
            "StandingOrderName",
            "StartDate",
            "EndDate",
            "BusinessShortCode",
            "TransactionType",
            "ReceiverPartyIdentifierType",
            "Amount",
            "PartyA",
            "AccountReference",
            "TransactionDesc",
        ] {
            assert_eq!(ratiba[same], published[same], "{same}");
        }
        assert_eq!(
            ratiba["Frequency"], "4",
            "monthly, in the portal's numbering"
        );
        let long = malipo_providers::daraja::ratiba::StandingOrder {
            account_reference: "POL-123456789".into(),
            ..order.clone()
        };
        assert!(
            client.standing_order_request(&long).is_err(),
            "13 characters"
        );
        let backwards = malipo_providers::daraja::ratiba::StandingOrder {
            end: time::macros::date!(2023 - 09 - 05),
            ..order.clone()
        };
        assert!(client.standing_order_request(&backwards).is_err());
        assert!(
            till.standing_order_request(&order).is_err(),
            "runs carry the account only on a paybill"
        );

        let ps = paystack_client("http://127.0.0.1:9");
        let init = ps
            .initialize_request(
                &Email::parse("customer@email.com").unwrap(),
                Money::from_minor(20_000, Currency::Kes).unwrap(),
                "MABC123",
                serde_json::json!({}),
            )
            .unwrap();
        let init = serde_json::to_value(&init).unwrap();
        let sample = json_fixture("paystack_initialize_request.json");
        for key in ["email", "amount"] {
            assert_eq!(
                init[key], sample[key],
                "initialize {key}: subunits as a string"
            );
        }
    }

    #[test]
    fn the_daraja_error_fixtures_are_the_bodies_the_client_reads() {
        for file in [
            "daraja_error_invalid_access_token_404.json",
            "daraja_stk_push_error_400.json",
            "daraja_stk_query_pending_500.json",
        ] {
            let body: daraja::wire::ErrorBody = serde_json::from_slice(&fixture(file)).unwrap();
            assert!(body.error_code.contains('.'), "{file}");
        }
        let token: daraja::wire::TokenResponse =
            serde_json::from_slice(&fixture("daraja_oauth_response_legacy_string_expiry.json"))
                .unwrap();
        assert_eq!(token.expires_in.get(), "\"3599\"");
        let q: daraja::wire::StkQueryResponse =
            serde_json::from_slice(&fixture("daraja_stk_query_response.json")).unwrap();
        assert_eq!(q.result_code.get(), "\"0\"");
    }
}

mod replay {
    //! The clients against a server that answers with the published bodies verbatim.
    use super::*;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    async fn serve(router: Router) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }

    /// A published response body, served with status 200.
    type Reply = (StatusCode, [(&'static str, &'static str); 1], Vec<u8>);

    fn body(name: &'static str) -> impl Fn() -> std::future::Ready<Reply> + Clone {
        move || {
            std::future::ready((
                StatusCode::OK,
                [("content-type", "application/json")],
                fixture(name),
            ))
        }
    }

    #[tokio::test]
    async fn paystack_published_responses_read_correctly() {
        let router = Router::new()
            .route(
                "/transaction/initialize",
                post(body("paystack_initialize_response.json")),
            )
            .route(
                "/transaction/verify/{r}",
                get(body("paystack_verify_success.json")),
            )
            .route(
                "/transaction/charge_authorization",
                post(body("paystack_charge_authorization_response.json")),
            )
            .route(
                "/transaction",
                get(body("paystack_transaction_list_response.json")),
            )
            .route(
                "/refund",
                post(body("paystack_refund_create_response.json"))
                    .get(body("paystack_refund_list_response.json")),
            )
            .route(
                "/refund/{id}",
                get(body("paystack_refund_fetch_response.json")),
            );
        let addr = serve(router).await;
        let client = paystack_client(&format!("http://{addr}"));
        let email = Email::parse("customer@email.com").unwrap();

        let err = client
            .initialize(
                &email,
                Money::from_minor(20_000, Currency::Ngn).unwrap(),
                "OTHERREF",
                Value::Null,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, PaystackError::Unexpected(ref m) if m.contains("nms6uvr1pl")),
            "a reference we did not ask for is refused: {err}"
        );
        let ok = client
            .initialize(
                &email,
                Money::from_minor(20_000, Currency::Ngn).unwrap(),
                "nms6uvr1pl",
                Value::Null,
            )
            .await
            .unwrap();
        assert_eq!(
            ok.authorization_url,
            "https://checkout.paystack.com/nkdks46nymizns7"
        );

        let v = client.verify("re4lyvq3s3").await.unwrap();
        assert_eq!(
            (v.id, v.amount.minor(), v.status.clone()),
            (4_099_260_516, 40_333, CardStatus::Paid)
        );
        let card = v.card.unwrap();
        assert_eq!(
            (
                card.authorization_code.as_str(),
                card.brand.as_str(),
                card.last4.as_str(),
                card.exp_month.as_str(),
                card.reusable
            ),
            ("AUTH_uh8bcl3zbn", "visa", "4081", "12", true)
        );

        let charged = client
            .charge_authorization(
                &email,
                Money::from_minor(20_000, Currency::Ngn).unwrap(),
                "AUTH_72btv547",
                "ref-1",
                Value::Null,
            )
            .await
            .unwrap();
        assert!(charged.amount.minor() > 0);

        let page = client
            .transactions(&ListQuery {
                per_page: 50,
                page: 1,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert!(!page.items.is_empty());
        let refund = client.refund("T685312322670591", None, "").await.unwrap();
        assert_eq!(
            (
                refund.status.as_str(),
                refund.amount.minor(),
                refund.transaction_reference.as_deref()
            ),
            ("pending", 10_000, Some("T685312322670591"))
        );
        let list = client.refund_list(None).await.unwrap();
        assert_eq!(
            list.len(),
            2,
            "a list whose transaction is an id, with fully_deducted 1 or null"
        );
        let fetched = client.refund_fetch(1).await.unwrap();
        assert!(fetched.amount.minor() > 0);
    }

    #[tokio::test]
    async fn charge_and_refund_requests_carry_the_published_fields_with_the_published_types() {
        let seen: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
        let record = |file: &'static str, seen: Arc<std::sync::Mutex<Vec<Value>>>| {
            move |axum::Json(v): axum::Json<Value>| {
                seen.lock().unwrap().push(v);
                std::future::ready((StatusCode::OK, fixture(file)))
            }
        };
        let router = Router::new()
            .route(
                "/transaction/charge_authorization",
                post(record(
                    "paystack_charge_authorization_response.json",
                    Arc::clone(&seen),
                )),
            )
            .route(
                "/refund",
                post(record(
                    "paystack_refund_create_response.json",
                    Arc::clone(&seen),
                )),
            );
        let addr = serve(router).await;
        let client = paystack_client(&format!("http://{addr}"));
        let email = Email::parse("customer@email.com").unwrap();
        let amount = Money::from_minor(20_000, Currency::Ngn).unwrap();
        client
            .charge_authorization(&email, amount, "AUTH_72btv547", "MREF00000001", Value::Null)
            .await
            .unwrap();
        client
            .refund(
                "qufywna9w9a5d8v",
                Some(Money::from_minor(10_000, Currency::Ngn).unwrap()),
                "",
            )
            .await
            .unwrap();
        client.refund("1641", None, "").await.unwrap();
        let seen = seen.lock().unwrap();
        // A full refund names the transaction alone; Paystack takes a reference or an id there.
        let full = json_fixture("paystack_refund_create_request.json");
        let full_keys: Vec<&String> = full.as_object().unwrap().keys().collect();
        let ours: Vec<&String> = seen[2].as_object().unwrap().keys().collect();
        assert_eq!(ours, full_keys, "a full refund sends only the transaction");
        for (sent, file) in seen.iter().zip([
            "paystack_charge_authorization_request.json",
            "paystack_refund_create_request_partial.json",
        ]) {
            let published = json_fixture(file);
            let ours = shape(sent);
            for (key, kind) in shape(&published) {
                assert_eq!(ours.get(&key), Some(&kind), "{file}: {key}");
                assert_eq!(
                    sent[&key], published[&key],
                    "{file}: {key} has the published value"
                );
            }
        }
    }

    #[tokio::test]
    async fn daraja_published_responses_read_correctly() {
        let router = Router::new()
            .route(
                "/oauth/v1/generate",
                get(body("daraja_oauth_response.json")),
            )
            .route(
                "/mpesa/stkpush/v1/processrequest",
                post(body("daraja_stk_push_response.json")),
            )
            .route(
                "/mpesa/stkpushquery/v1/query",
                post(body("daraja_stk_query_response.json")),
            );
        let addr = serve(router).await;
        let client = DarajaClient::new(daraja_config(&format!("http://{addr}")));
        let pushed = client
            .stk_push(
                mpesa(1),
                &Msisdn::parse("0722111111").unwrap(),
                "accountref",
                "txndesc",
            )
            .await
            .unwrap();
        assert_eq!(
            pushed.checkout_request_id,
            "ws_CO_1007202409152617172396192"
        );
        assert_eq!(
            pushed.merchant_request_id,
            "2654-4b64-97ff-b827b542881d3130"
        );
        assert_eq!(
            client
                .stk_query("ws_CO_13012021093521236557")
                .await
                .unwrap(),
            QueryResult::Paid,
            "ResultCode \"0\" as a string"
        );

        let pending = Router::new()
            .route(
                "/oauth/v1/generate",
                get(body("daraja_oauth_response_legacy_string_expiry.json")),
            )
            .route(
                "/mpesa/stkpushquery/v1/query",
                post(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        fixture("daraja_stk_query_pending_500.json"),
                    )
                }),
            )
            .route(
                "/mpesa/stkpush/v1/processrequest",
                post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        fixture("daraja_stk_push_error_400.json"),
                    )
                }),
            );
        let addr = serve(pending).await;
        let client = DarajaClient::new(daraja_config(&format!("http://{addr}")));
        assert_eq!(
            client.stk_query("ws_CO_20022018230142206").await.unwrap(),
            QueryResult::Pending,
            "500.001.1001 means still pending"
        );
        let e = client
            .stk_push(
                mpesa(1),
                &Msisdn::parse("0722111111").unwrap(),
                "ref",
                "desc",
            )
            .await
            .unwrap_err();
        assert_eq!(
            e,
            DarajaError::BadRequest {
                code: "400.002.02".into(),
                message: "Bad Request - Invalid BusinessShortCode".into()
            }
        );

        let refused = Router::new()
            .route(
                "/oauth/v1/generate",
                get(body("daraja_oauth_response.json")),
            )
            .route(
                "/mpesa/stkpush/v1/processrequest",
                post(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        fixture("daraja_error_invalid_access_token_404.json"),
                    )
                }),
            );
        let addr = serve(refused).await;
        let client = DarajaClient::new(daraja_config(&format!("http://{addr}")));
        let e = client
            .stk_push(
                mpesa(1),
                &Msisdn::parse("0722111111").unwrap(),
                "ref",
                "desc",
            )
            .await
            .unwrap_err();
        assert_eq!(
            e,
            DarajaError::InvalidToken,
            "refreshed once, retried once, then reported"
        );
    }

    /// RegisterURL as integrators have recorded Daraja answering it with HTTP 200: the classic
    /// success carries no `ResponseCode`, and "already registered" may come with only a
    /// description.
    #[tokio::test]
    async fn register_url_answers_without_a_code_are_judged_by_their_description() {
        use malipo_providers::daraja::{RegisterVersion, ResponseType};
        async fn answering(answer: &'static str) -> Result<String, DarajaError> {
            let router = Router::new()
                .route(
                    "/oauth/v1/generate",
                    get(body("daraja_oauth_response.json")),
                )
                .route(
                    "/mpesa/c2b/v1/registerurl",
                    post(move || async move {
                        (
                            StatusCode::OK,
                            [("content-type", "application/json")],
                            answer,
                        )
                    }),
                );
            let addr = serve(router).await;
            DarajaClient::new(daraja_config(&format!("http://{addr}")))
                .register_urls(
                    RegisterVersion::V1,
                    ResponseType::Completed,
                    "https://relay.example/c2b/confirm/t",
                    "https://relay.example/c2b/validate/t",
                )
                .await
        }
        assert_eq!(
            answering(r#"{"ConversationID": "", "OriginatorCoversationID": "", "ResponseDescription": "success"}"#)
                .await
                .unwrap(),
            "success"
        );
        assert_eq!(
            answering(r#"{"OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0", "ResponseDescription": "Success"}"#)
                .await
                .unwrap(),
            "Success"
        );
        let again = answering(
            r#"{"ConversationID": "", "OriginatorCoversationID": "", "ResponseDescription": "Failed, URLs are already registered"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(
            again,
            DarajaError::Provider {
                status: 200,
                code: String::new(),
                message: "Failed, URLs are already registered".into()
            }
        );
        assert_eq!(
            again.to_string(),
            "M-Pesa answered HTTP 200 (Failed, URLs are already registered)"
        );
        let coded = answering(r#"{"ResponseCode": "1", "ResponseDescription": "success"}"#)
            .await
            .unwrap_err();
        assert!(
            matches!(&coded, DarajaError::Provider { code, .. } if code == "1"),
            "a code other than 0 is a refusal whatever the words: {coded:?}"
        );
    }

    #[tokio::test]
    async fn the_api_reference_initialize_response_reads_the_same() {
        let router = Router::new().route(
            "/transaction/initialize",
            post(body("paystack_initialize_response_apiref.json")),
        );
        let addr = serve(router).await;
        let client = paystack_client(&format!("http://{addr}"));
        let sample = json_fixture("paystack_initialize_response_apiref.json");
        let reference = sample["data"]["reference"].as_str().unwrap();
        let checkout = client
            .initialize(
                &Email::parse("customer@email.com").unwrap(),
                kes(200),
                reference,
                Value::Null,
            )
            .await
            .unwrap();
        assert_eq!(
            checkout.access_code,
            sample["data"]["access_code"].as_str().unwrap()
        );
    }

    #[tokio::test]
    async fn paystack_errors_become_typed_errors() {
        let router = Router::new()
            .route(
                "/transaction/verify/{r}",
                get(|| async {
                    (
                        StatusCode::UNAUTHORIZED,
                        fixture("paystack_verify_error_invalid_key.json"),
                    )
                }),
            )
            .route(
                "/transaction/initialize",
                post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        fixture("paystack_error_validation_sample.json"),
                    )
                }),
            )
            .route(
                "/refund",
                post(|| async {
                    (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        fixture("paystack_refund_retry_error_422.json"),
                    )
                }),
            );
        let addr = serve(router).await;
        let client = paystack_client(&format!("http://{addr}"));
        assert_eq!(
            client.verify("abc").await.unwrap_err(),
            PaystackError::Unauthorized("Invalid key".into())
        );
        let e = client
            .initialize(&Email::parse("a@b.co").unwrap(), kes(1), "abc", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            PaystackError::Rejected("Email Address is required".into())
        );
        assert!(matches!(
            client.refund("abc", None, "").await.unwrap_err(),
            PaystackError::Rejected(_)
        ));
    }
}

mod daraja_sandbox {
    use super::*;

    #[tokio::test]
    async fn a_hundred_concurrent_pushes_make_one_token_request() {
        let sb = sandbox(None).await;
        let client = Arc::new(DarajaClient::new(daraja_config(&sb.url())));
        let phone = Msisdn::parse("0708374149").unwrap();
        let mut tasks = Vec::new();
        for i in 0..100 {
            let client = Arc::clone(&client);
            let phone = phone.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .stk_push(mpesa(10 + i), &phone, "MABCDEF12345", "Premium")
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let stats = sb.sandbox.stats();
        assert_eq!(
            stats.token_requests, 1,
            "the token is fetched once and shared"
        );
        assert_eq!(stats.stk_pushes, 100);
    }

    #[tokio::test]
    async fn an_invalid_token_is_refreshed_once_and_the_request_retried_once() {
        let sb = sandbox(None).await;
        let client = DarajaClient::new(daraja_config(&sb.url()));
        let phone = Msisdn::parse("0708374149").unwrap();
        client
            .stk_push(mpesa(1), &phone, "REF", "Premium")
            .await
            .unwrap();
        sb.sandbox.revoke_tokens();
        client
            .stk_push(mpesa(1), &phone, "REF", "Premium")
            .await
            .unwrap();
        let stats = sb.sandbox.stats();
        assert_eq!(
            (stats.token_requests, stats.stk_pushes),
            (2, 3),
            "one refresh, one retry"
        );
    }

    #[tokio::test]
    async fn expired_tokens_are_refreshed_before_use() {
        let config = SandboxConfig {
            token_ttl_secs: 2,
            public_url: String::new(),
            ..SandboxConfig::default()
        };
        let sb = malipo_sandbox::spawn("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let client = DarajaClient::new(daraja_config(&sb.url()));
        let phone = Msisdn::parse("0708374149").unwrap();
        client
            .stk_push(mpesa(1), &phone, "REF", "Premium")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        client
            .stk_push(mpesa(1), &phone, "REF", "Premium")
            .await
            .unwrap();
        let stats = sb.sandbox.stats();
        assert_eq!(
            (stats.token_requests, stats.stk_pushes),
            (2, 2),
            "refreshed ahead of expiry: no request was refused"
        );
    }

    async fn final_query(client: &DarajaClient, id: &str) -> QueryResult {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match client.stk_query(id).await.unwrap() {
                QueryResult::Pending if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                other => return other,
            }
        }
    }

    #[tokio::test]
    async fn each_test_number_ends_in_its_documented_outcome() {
        let sb = sandbox(None).await;
        let client = DarajaClient::new(daraja_config(&sb.url()));
        for (phone, want) in [
            ("0708374149", None),
            ("0700000001", Some((FailureKind::Failed, "1"))),
            ("0700000032", Some((FailureKind::Cancelled, "1032"))),
            ("0700000037", Some((FailureKind::TimedOut, "1037"))),
            ("0700002001", Some((FailureKind::Failed, "2001"))),
        ] {
            let pushed = client
                .stk_push(
                    mpesa(100),
                    &Msisdn::parse(phone).unwrap(),
                    "MABCDEF12345",
                    "Premium",
                )
                .await
                .unwrap();
            assert_eq!(
                client.stk_query(&pushed.checkout_request_id).await.unwrap(),
                QueryResult::Pending,
                "before the customer acts"
            );
            let got = final_query(&client, &pushed.checkout_request_id).await;
            match (want, got) {
                (None, QueryResult::Paid) => {}
                (Some((kind, code)), QueryResult::NotPaid(f)) => {
                    assert_eq!((f.kind, f.code.as_str()), (kind, code), "{phone}")
                }
                (want, got) => panic!("{phone}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_sending_or_by_daraja_with_typed_errors() {
        let sb = sandbox(None).await;
        let client = DarajaClient::new(daraja_config(&sb.url()));
        let phone = Msisdn::parse("0708374149").unwrap();
        for (amount, reference, desc, why) in [
            (
                Money::from_minor(150, Currency::Kes).unwrap(),
                "REF",
                "Premium",
                "whole shillings",
            ),
            (kes(250_001), "REF", "Premium", "250,000"),
            (kes(10), "THIRTEEN-CHAR", "Premium", "AccountReference"),
            (kes(10), "REF", "fourteen chars", "TransactionDesc"),
        ] {
            // An amount M-Pesa cannot move is refused where it is made; the rest by the client.
            let e = match MpesaAmount::new(amount) {
                Err(e) => e,
                Ok(amount) => client
                    .stk_push(amount, &phone, reference, desc)
                    .await
                    .unwrap_err(),
            };
            assert!(
                matches!(e, DarajaError::Invalid(ref m) if m.contains(why)),
                "{e}"
            );
        }
        assert_eq!(sb.sandbox.stats().stk_pushes, 0, "nothing was sent");

        let wrong = DarajaClient::new(DarajaConfig {
            shortcode: "600000".into(),
            ..daraja_config(&sb.url())
        });
        let e = wrong
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap_err();
        assert_eq!(
            e,
            DarajaError::BadRequest {
                code: "400.002.02".into(),
                message: "Bad Request - Invalid BusinessShortCode".into()
            }
        );

        client
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap();
        let busy = Behaviour {
            customer_delay_ms: 100,
            ..Behaviour::default()
        };
        sb.sandbox.set_behaviour(Behaviour {
            spike_arrest_next: 1,
            ..busy.clone()
        });
        let e = client
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap_err();
        assert_eq!(e, DarajaError::SpikeArrest);
        assert!(
            e.safe_to_retry(),
            "spike arrest means the request was not processed"
        );
        sb.sandbox.set_behaviour(Behaviour {
            fail_next: 1,
            ..busy.clone()
        });
        let e = client
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap_err();
        assert!(
            matches!(e, DarajaError::Provider { status: 500, .. }),
            "{e}"
        );
        assert!(
            !e.safe_to_retry(),
            "a server error on the push may still have sent the prompt"
        );
        sb.sandbox.set_behaviour(Behaviour {
            fail_next: 1,
            ..busy
        });
        let fresh = DarajaClient::new(daraja_config(&sb.url()));
        let e = fresh
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap_err();
        assert!(matches!(e, DarajaError::AuthUnavailable(_)), "{e}");
        assert!(e.safe_to_retry(), "no token, so nothing was sent");

        let bad_key = DarajaClient::new(DarajaConfig {
            consumer_secret: Secret::new("wrong"),
            ..daraja_config(&sb.url())
        });
        let e = bad_key
            .stk_push(mpesa(10), &phone, "REF", "Premium")
            .await
            .unwrap_err();
        assert!(matches!(e, DarajaError::Credentials(_)), "{e}");
        assert!(
            !format!("{e} {e:?}").contains("sandbox-consumer-secret"),
            "no secret in errors"
        );
    }

    #[tokio::test]
    async fn a_reversal_is_accepted_with_an_encrypted_credential_and_its_result_arrives() {
        // A receiver for the callbacks, standing in for the relay.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
        let router = axum::Router::new().route(
            "/cb",
            axum::routing::post(move |body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(body.to_vec());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cb = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        let sb = sandbox(None).await;
        let client = DarajaClient::new(DarajaConfig {
            callback_url: Secret::new(cb),
            ..daraja_config(&sb.url())
        });
        client
            .stk_push(
                mpesa(500),
                &Msisdn::parse("0708374149").unwrap(),
                "REF",
                "Premium",
            )
            .await
            .unwrap();
        let paid = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let StkOutcome::Paid {
            receipt, amount, ..
        } = daraja::callback::parse(&paid).unwrap().outcome
        else {
            panic!("not paid")
        };
        assert_eq!(amount, kes(500));

        let accepted = client
            .reverse(&receipt, mpesa(200), "Partial refund")
            .await
            .unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        let result = daraja::parse_reversal_result(&result).unwrap();
        assert!(result.succeeded, "{result:?}");
        assert_eq!(result.conversation_id, accepted.conversation_id);

        client
            .reverse(&receipt, mpesa(301), "Too much")
            .await
            .unwrap();
        let over = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(
            !daraja::parse_reversal_result(&over).unwrap().succeeded,
            "more than what is left is refused"
        );

        let wrong = DarajaClient::new(DarajaConfig {
            initiator: Some(Initiator {
                password: Secret::new("not-it"),
                ..daraja_config("").initiator.unwrap()
            }),
            ..daraja_config(&sb.url())
        });
        assert!(
            matches!(wrong.reverse(&receipt, mpesa(1), "x").await.unwrap_err(), DarajaError::BadRequest { ref message, .. } if message.contains("SecurityCredential"))
        );
    }
}

mod paybill_sandbox {
    use super::*;
    use malipo_providers::daraja::{RegisterVersion, ResponseType};

    /// A receiver for everything Safaricom posts: validation (answered by `accept`),
    /// confirmations and results.
    async fn office(
        accept: bool,
    ) -> (
        String,
        tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let router = axum::Router::new().route(
            "/{kind}",
            axum::routing::post(
                move |axum::extract::Path(kind): axum::extract::Path<String>,
                      body: axum::body::Bytes| {
                    let tx = tx.clone();
                    async move {
                        let _ = tx.send((kind.clone(), body.to_vec()));
                        let code = if kind == "validate" && !accept { "C2B00012" } else { "0" };
                        axum::Json(serde_json::json!({"ResultCode": code, "ResultDesc": if code == "0" { "Accepted" } else { "Rejected" }}))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, rx)
    }

    async fn pay_bill(sb: &Running, account: &str, amount: i64) -> Value {
        reqwest::Client::new()
            .post(format!("{}/__sandbox/c2b/pay", sb.url()))
            .json(&serde_json::json!({"account": account, "amount": amount}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn next(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    ) -> (String, Vec<u8>) {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("Safaricom posts")
            .unwrap()
    }

    /// Registering URLs, a customer paying the bill (validated, then confirmed) and Transaction
    /// Status proving it, as the simulator plays Safaricom's side.
    #[tokio::test]
    async fn a_paybill_payment_is_validated_confirmed_and_proved_by_transaction_status() {
        let (url, mut rx) = office(true).await;
        let sb = sandbox(None).await;
        let client = DarajaClient::new(DarajaConfig {
            callback_url: Secret::new(format!("{url}/result")),
            ..daraja_config(&sb.url())
        });
        let registered = client
            .register_urls(
                RegisterVersion::V2,
                ResponseType::Completed,
                &format!("{url}/confirm"),
                &format!("{url}/validate"),
            )
            .await
            .unwrap();
        assert_eq!(registered, "success");
        let mismatch = client
            .register_urls(
                RegisterVersion::V1,
                ResponseType::Completed,
                &format!("{url}/confirm"),
                &format!("{url}/validate"),
            )
            .await
            .unwrap_err();
        assert!(mismatch.to_string().contains("500.003.1001"), "{mismatch}");
        let refused = client
            .register_urls(
                RegisterVersion::V2,
                ResponseType::Completed,
                "https://x.example/mpesa/c",
                "https://x.example/v",
            )
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("Invalid URL"), "{refused}");

        sb.sandbox.set_behaviour(Behaviour {
            c2b_validation: true,
            customer_delay_ms: 100,
            ..Behaviour::default()
        });
        let paid = pay_bill(&sb, "mtr 2291", 1500).await;
        assert_eq!(paid["outcome"], "completed", "{paid}");
        let (kind, validation) = next(&mut rx).await;
        assert_eq!(kind, "validate");
        let asked = daraja::c2b::parse_payment(&validation).unwrap();
        assert_eq!(
            (asked.account.as_str(), asked.amount),
            ("mtr 2291", kes(1500))
        );
        assert_eq!(
            asked.msisdn, "25470****149",
            "masked, as current callbacks are"
        );
        let (kind, confirmation) = next(&mut rx).await;
        assert_eq!(kind, "confirm");
        let confirmed = daraja::c2b::parse_payment(&confirmation).unwrap();
        assert_eq!(confirmed.trans_id, paid["trans_id"].as_str().unwrap());

        client
            .transaction_status(&confirmed.trans_id)
            .await
            .unwrap();
        let (kind, result) = next(&mut rx).await;
        assert_eq!(kind, "result");
        let status = daraja::c2b::parse_status_result(&result).unwrap();
        assert_eq!(
            status.confirms(&confirmed.trans_id, kes(1500), "174379"),
            None
        );
        assert!(
            status
                .confirms(&confirmed.trans_id, kes(1501), "174379")
                .is_some()
        );

        client.transaction_status("SXXXXXXXXX").await.unwrap();
        let (_, unknown) = next(&mut rx).await;
        let unknown = daraja::c2b::parse_status_result(&unknown).unwrap();
        assert!(!unknown.found(), "{unknown:?}");
    }

    /// Validation refusing a payment cancels it: nothing is taken and no confirmation comes.
    #[tokio::test]
    async fn a_payment_validation_refuses_is_never_confirmed() {
        let (url, mut rx) = office(false).await;
        let sb = sandbox(None).await;
        sb.sandbox.set_behaviour(Behaviour {
            c2b_validation: true,
            c2b_register_once: true,
            ..Behaviour::default()
        });
        let client = DarajaClient::new(daraja_config(&sb.url()));
        client
            .register_urls(
                RegisterVersion::V2,
                ResponseType::Cancelled,
                &format!("{url}/confirm"),
                &format!("{url}/validate"),
            )
            .await
            .unwrap();
        let again = client
            .register_urls(
                RegisterVersion::V2,
                ResponseType::Cancelled,
                &format!("{url}/confirm"),
                &format!("{url}/validate"),
            )
            .await
            .unwrap_err();
        assert!(again.to_string().contains("already registered"), "{again}");
        let paid = pay_bill(&sb, "NOSUCH-1", 900).await;
        assert_eq!(paid["outcome"], "cancelled");
        assert_eq!(paid["validation"]["ResultCode"], "C2B00012");
        let (kind, _) = next(&mut rx).await;
        assert_eq!(kind, "validate");
        assert!(
            tokio::time::timeout(Duration::from_millis(500), rx.recv())
                .await
                .is_err(),
            "no confirmation for a refused payment"
        );
    }
}

mod paystack_sandbox {
    use super::*;

    /// A webhook receiver that checks nothing, so the test can.
    async fn receiver() -> (
        String,
        tokio::sync::mpsc::UnboundedReceiver<(Option<String>, Vec<u8>)>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let tx = tx.clone();
                    async move {
                        let sig = headers
                            .get("x-paystack-signature")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        let _ = tx.send((sig, body.to_vec()));
                        "ok"
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, rx)
    }

    async fn pay(sb: &Running, reference: &str, card: &str) -> Value {
        reqwest_json(
            &format!("{}/__sandbox/paystack/pay", sb.url()),
            serde_json::json!({"reference": reference, "card": card}),
        )
        .await
    }

    async fn reqwest_json(url: &str, body: Value) -> Value {
        // A bare HTTP/1.1 POST, to keep the simulator's control API independent of the clients.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let u = url.strip_prefix("http://").unwrap();
        let (host, path) = u.split_once('/').unwrap();
        let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
        let b = body.to_string();
        let req = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let json = out.split("\r\n\r\n").nth(1).unwrap();
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn a_checkout_paid_with_the_success_card_verifies_with_a_reusable_card_and_a_signed_webhook()
     {
        let (hook, mut hooks) = receiver().await;
        let sb = sandbox(Some(hook)).await;
        let client = paystack_client(&sb.url());
        let email = Email::parse("amina@example.co.ke").unwrap();
        let amount = Money::from_minor(150_050, Currency::Kes).unwrap();
        let checkout = client
            .initialize(
                &email,
                amount,
                "MTEST0000001",
                serde_json::json!({"policy": "P-1"}),
            )
            .await
            .unwrap();
        assert!(checkout.authorization_url.contains(&checkout.access_code));
        assert!(
            matches!(client.verify("MTEST0000001").await.unwrap().status, CardStatus::Open(ref s) if s == "abandoned")
        );

        assert_eq!(
            pay(&sb, "MTEST0000001", "4084 0840 8408 4081").await["status"],
            "success"
        );
        let v = client.verify("MTEST0000001").await.unwrap();
        assert_eq!(
            (v.status.clone(), v.amount),
            (CardStatus::Paid, amount),
            "exact subunits both ways"
        );
        let card = v.card.unwrap();
        assert_eq!(
            (card.last4.as_str(), card.brand.as_str(), card.reusable),
            ("4081", "visa", true)
        );

        let (sig, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
            .await
            .unwrap()
            .unwrap();
        let secret = Secret::new(SandboxConfig::default().paystack_secret);
        paystack::verify_signature(&secret, &body, sig.as_deref()).unwrap();
        let WebhookEvent::ChargeSuccess(t) = paystack::parse_event(&body).unwrap() else {
            panic!()
        };
        assert_eq!(t.reference, "MTEST0000001");

        let again = client
            .charge_authorization(
                &email,
                Money::from_minor(100_000, Currency::Kes).unwrap(),
                &card.authorization_code,
                "MTEST0000002",
                Value::Null,
            )
            .await
            .unwrap();
        assert_eq!(
            again.status,
            CardStatus::Paid,
            "a saved card is charged without the customer"
        );
        let e = client
            .charge_authorization(
                &Email::parse("other@example.com").unwrap(),
                amount,
                &card.authorization_code,
                "MTEST0000003",
                Value::Null,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, PaystackError::Rejected(_)),
            "a card is charged only for its owner"
        );
    }

    #[tokio::test]
    async fn a_declined_card_fails_and_duplicates_and_bad_keys_are_refused() {
        let sb = sandbox(None).await;
        let client = paystack_client(&sb.url());
        let email = Email::parse("amina@example.co.ke").unwrap();
        client
            .initialize(&email, kes(100), "MTEST0000010", Value::Null)
            .await
            .unwrap();
        pay(&sb, "MTEST0000010", "4084080000005408").await;
        assert!(
            matches!(client.verify("MTEST0000010").await.unwrap().status, CardStatus::NotPaid { kind: FailureKind::Failed, ref message } if message.contains("Declined"))
        );
        let dup = client
            .initialize(&email, kes(100), "MTEST0000010", Value::Null)
            .await
            .unwrap_err();
        assert_eq!(
            dup,
            PaystackError::Rejected("Duplicate Transaction Reference".into())
        );
        let bad = PaystackClient::new(PaystackConfig::new(&sb.url(), Secret::new("sk_test_wrong")));
        assert_eq!(
            bad.verify("MTEST0000010").await.unwrap_err(),
            PaystackError::Unauthorized("Invalid key".into())
        );
        assert!(
            matches!(client.verify("MNOSUCHREF00").await.unwrap_err(), PaystackError::NotFound(ref m) if m.contains("not found")),
            "an unknown reference is not found (nothing was charged under it), not a refusal"
        );
    }

    #[tokio::test]
    async fn partial_refunds_move_through_their_webhooks_and_never_exceed_the_payment() {
        let (hook, mut hooks) = receiver().await;
        let sb = sandbox(Some(hook)).await;
        let client = paystack_client(&sb.url());
        let email = Email::parse("amina@example.co.ke").unwrap();
        client
            .initialize(&email, kes(1000), "MTEST0000020", Value::Null)
            .await
            .unwrap();
        pay(&sb, "MTEST0000020", "4084084084084081").await;
        let _charge = hooks.recv().await;
        let r = client
            .refund("MTEST0000020", Some(kes(400)), "Overpaid")
            .await
            .unwrap();
        assert_eq!((r.status.as_str(), r.amount), ("pending", kes(400)));
        let mut seen = Vec::new();
        while seen.last().map(String::as_str) != Some("processed") {
            let (_, body) = tokio::time::timeout(Duration::from_secs(10), hooks.recv())
                .await
                .unwrap()
                .unwrap();
            let WebhookEvent::Refund(ev) = paystack::parse_event(&body).unwrap() else {
                panic!()
            };
            assert_eq!(ev.transaction_reference, "MTEST0000020");
            seen.push(ev.status);
        }
        assert_eq!(seen, ["pending", "processing", "processed"]);
        assert_eq!(client.refund_fetch(r.id).await.unwrap().status, "processed");
        let over = client
            .refund("MTEST0000020", Some(kes(601)), "Too much")
            .await
            .unwrap_err();
        assert!(matches!(over, PaystackError::Rejected(_)), "{over}");
        assert_eq!(
            client
                .refund_list(Some("MTEST0000020"))
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn the_transaction_list_pages_and_filters() {
        let sb = sandbox(None).await;
        let client = paystack_client(&sb.url());
        let email = Email::parse("amina@example.co.ke").unwrap();
        for i in 0..7 {
            let reference = format!("MLIST{i:07}");
            client
                .initialize(&email, kes(10 + i), &reference, Value::Null)
                .await
                .unwrap();
            if i % 2 == 0 {
                pay(&sb, &reference, "4084084084084081").await;
            }
        }
        let p1 = client
            .transactions(&ListQuery {
                per_page: 3,
                page: 1,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (p1.items.len(), p1.total, p1.page_count),
            (3, Some(7), Some(3))
        );
        let p3 = client
            .transactions(&ListQuery {
                per_page: 3,
                page: 3,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(p3.items.len(), 1);
        let paid = client
            .transactions(&ListQuery {
                per_page: 50,
                page: 1,
                status: Some("success".into()),
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(paid.total, Some(4));
        assert!(paid.items.iter().all(|t| t.status == CardStatus::Paid));
    }
}

//! Daraja's JSON, field for field, as the published samples write it (see the fixtures):
//! `BusinessShortCode` is a number in the push request and a string in the query; `Amount` is
//! a string in the request and may be `1.00` in a callback; `ResultCode` may be a number or a
//! string such as `"SFC_IC0003"`; `expires_in` may be a number or a string.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: Box<RawValue>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StkPushRequest {
    pub business_short_code: u64,
    pub password: String,
    pub timestamp: String,
    pub transaction_type: String,
    pub amount: String,
    pub party_a: String,
    pub party_b: String,
    pub phone_number: String,
    #[serde(rename = "CallBackURL")]
    pub call_back_url: String,
    pub account_reference: String,
    pub transaction_desc: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StkPushResponse {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: String,
    #[serde(rename = "CustomerMessage")]
    pub customer_message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StkQueryRequest {
    #[serde(rename = "BusinessShortCode")]
    pub business_short_code: String,
    #[serde(rename = "Password")]
    pub password: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StkQueryResponse {
    #[serde(rename = "ResponseCode")]
    pub response_code: Box<RawValue>,
    #[serde(rename = "ResponseDescription")]
    pub response_description: Option<String>,
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: Option<String>,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResultCode")]
    pub result_code: Box<RawValue>,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
}

/// Daraja's error body: `{"requestId", "errorCode", "errorMessage"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "requestId", default)]
    pub request_id: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
}

#[derive(Debug, Deserialize)]
pub struct CallbackEnvelope {
    #[serde(rename = "Body")]
    pub body: CallbackBody,
}

#[derive(Debug, Deserialize)]
pub struct CallbackBody {
    #[serde(rename = "stkCallback")]
    pub stk_callback: StkCallback,
}

#[derive(Debug, Deserialize)]
pub struct StkCallback {
    #[serde(rename = "MerchantRequestID")]
    pub merchant_request_id: String,
    #[serde(rename = "CheckoutRequestID")]
    pub checkout_request_id: String,
    #[serde(rename = "ResultCode")]
    pub result_code: Box<RawValue>,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
    #[serde(rename = "CallbackMetadata")]
    pub callback_metadata: Option<CallbackMetadata>,
}

#[derive(Debug, Deserialize)]
pub struct CallbackMetadata {
    #[serde(rename = "Item")]
    pub item: Vec<CallbackItem>,
}

/// One `{"Name", "Value"}` pair; `Value` is kept as raw JSON text so amounts like `1.00` are
/// read exactly, and may be absent (`{"Name": "Balance"}`).
#[derive(Debug, Deserialize)]
pub struct CallbackItem {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Value")]
    pub value: Option<Box<RawValue>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReversalRequest {
    #[serde(rename = "Initiator")]
    pub initiator: String,
    #[serde(rename = "SecurityCredential")]
    pub security_credential: String,
    #[serde(rename = "CommandID")]
    pub command_id: String,
    #[serde(rename = "TransactionID")]
    pub transaction_id: String,
    #[serde(rename = "Amount")]
    pub amount: String,
    #[serde(rename = "ReceiverParty")]
    pub receiver_party: String,
    /// Safaricom's own spelling.
    #[serde(rename = "RecieverIdentifierType")]
    pub reciever_identifier_type: String,
    #[serde(rename = "ResultURL")]
    pub result_url: String,
    #[serde(rename = "QueueTimeOutURL")]
    pub queue_time_out_url: String,
    #[serde(rename = "Remarks")]
    pub remarks: String,
    #[serde(rename = "Occasion")]
    pub occasion: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReversalResponse {
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: String,
}

/// C2B RegisterURL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterUrlRequest {
    #[serde(rename = "ShortCode")]
    pub short_code: String,
    #[serde(rename = "ResponseType")]
    pub response_type: String,
    #[serde(rename = "ConfirmationURL")]
    pub confirmation_url: String,
    #[serde(rename = "ValidationURL")]
    pub validation_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterUrlResponse {
    /// Daraja's own spelling; some answers spell it right.
    #[serde(
        rename = "OriginatorCoversationID",
        alias = "OriginatorConversationID",
        default
    )]
    pub originator_conversation_id: String,
    /// Absent from the classic success answer (`{"ConversationID": "",
    /// "OriginatorCoversationID": "", "ResponseDescription": "success"}`) and from some
    /// "already registered" answers: those are judged by their description.
    #[serde(rename = "ResponseCode", default)]
    pub response_code: Option<String>,
    #[serde(rename = "ResponseDescription", default)]
    pub response_description: String,
}

/// Transaction Status query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusRequest {
    #[serde(rename = "Initiator")]
    pub initiator: String,
    #[serde(rename = "SecurityCredential")]
    pub security_credential: String,
    #[serde(rename = "CommandID")]
    pub command_id: String,
    #[serde(rename = "TransactionID")]
    pub transaction_id: String,
    #[serde(rename = "PartyA")]
    pub party_a: String,
    #[serde(rename = "IdentifierType")]
    pub identifier_type: String,
    #[serde(rename = "ResultURL")]
    pub result_url: String,
    #[serde(rename = "QueueTimeOutURL")]
    pub queue_time_out_url: String,
    #[serde(rename = "Remarks")]
    pub remarks: String,
    #[serde(rename = "Occasion")]
    pub occasion: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusResponse {
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "ResponseCode")]
    pub response_code: String,
    #[serde(rename = "ResponseDescription")]
    pub response_description: String,
}

/// The result Daraja posts to `ResultURL` when a reversal finishes.
#[derive(Debug, Deserialize)]
pub struct ReversalResultEnvelope {
    #[serde(rename = "Result")]
    pub result: ReversalResult,
}

#[derive(Debug, Deserialize)]
pub struct ReversalResult {
    #[serde(rename = "ResultType", default)]
    pub result_type: Option<Box<RawValue>>,
    #[serde(rename = "ResultCode")]
    pub result_code: Box<RawValue>,
    #[serde(rename = "ResultDesc")]
    pub result_desc: String,
    #[serde(rename = "OriginatorConversationID")]
    pub originator_conversation_id: String,
    #[serde(rename = "ConversationID")]
    pub conversation_id: String,
    #[serde(rename = "TransactionID")]
    pub transaction_id: String,
    #[serde(rename = "ResultParameters", default)]
    pub result_parameters: Option<ResultParameters>,
}

/// `{"ResultParameter": [{"Key": ..., "Value": ...}]}`; Safaricom sends one item as an object.
#[derive(Debug, Deserialize)]
pub struct ResultParameters {
    #[serde(rename = "ResultParameter", default)]
    pub items: OneOrMany<KeyValue>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    Many(Vec<T>),
    One(T),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        match self {
            OneOrMany::Many(v) => v.iter(),
            OneOrMany::One(t) => std::slice::from_ref(t).iter(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyValue {
    #[serde(rename = "Key")]
    pub key: String,
    /// A string or a number (untagged enums cannot hold raw values, so it is parsed).
    #[serde(rename = "Value", default)]
    pub value: Option<serde_json::Value>,
}

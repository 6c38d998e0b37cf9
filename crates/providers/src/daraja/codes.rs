//! What Daraja's result codes mean for a payment, and what the clerk should do next.

use malipo_domain::FailureKind;

/// A `ResultCode` as sent: a number (`1032`) or a string (`"SFC_IC0003"`), kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultCode(String);

impl ResultCode {
    /// Reads the raw JSON of a `ResultCode`: `0`, `"0"`, `1032` or `"SFC_IC0003"`.
    pub fn from_raw(raw: &str) -> Option<ResultCode> {
        let t = raw.trim();
        let text = match t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) => inner,
            // A bare number only while JSON readers agree on it: past 64 bits they turn it into
            // a float (`1.3e23`), so the code would read one way here and another everywhere else.
            None if t.bytes().all(|b| b.is_ascii_digit()) && t.parse::<u64>().is_ok() => t,
            None => return None,
        };
        let ok = !text.is_empty()
            && text.len() <= 32
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        ok.then(|| ResultCode(text.to_owned()))
    }

    pub fn new(code: &str) -> ResultCode {
        ResultCode(code.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_success(&self) -> bool {
        self.0 == "0"
    }
}

/// How a payment ended that did not succeed, for the status and the clerk's screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub code: String,
    /// What the clerk can tell the customer or do next.
    pub message: String,
}

/// The failure a non-zero `ResultCode` stands for. `desc` is Safaricom's `ResultDesc`, shown
/// only for codes we do not know.
pub fn failure(code: &ResultCode, desc: &str) -> Failure {
    let (kind, message): (FailureKind, String) = match code.as_str() {
        "1" => (
            FailureKind::Failed,
            "The customer's M-Pesa balance is too low. Ask them to top up or use Fuliza, then send the prompt again.".into(),
        ),
        "17" => (
            FailureKind::Failed,
            "M-Pesa refused a repeat of the same payment so soon. Wait two minutes, then try again.".into(),
        ),
        "1019" => (
            FailureKind::TimedOut,
            "The M-Pesa prompt expired before the customer answered. Send it again and ask them to enter their PIN straight away.".into(),
        ),
        "1025" => (
            FailureKind::Failed,
            "M-Pesa could not deliver the prompt. Check the phone number and send it again.".into(),
        ),
        "1032" => (
            FailureKind::Cancelled,
            "The customer cancelled the M-Pesa prompt. Ask whether they want to try again.".into(),
        ),
        "1037" => (
            FailureKind::TimedOut,
            "The customer's phone could not be reached. Ask them to check it is on and has signal, then send the prompt again.".into(),
        ),
        "2001" => (
            FailureKind::Failed,
            "The customer entered a wrong M-Pesa PIN. Send the prompt again and ask them to enter it carefully.".into(),
        ),
        "2028" | "SFC_IC0003" => (
            FailureKind::Failed,
            "M-Pesa rejected this office's paybill or till settings. Take another method and tell your administrator.".into(),
        ),
        other => (
            FailureKind::Failed,
            format!("M-Pesa declined the payment (code {other}: {}). Try again, or take the payment another way.", desc.trim()),
        ),
    };
    Failure {
        kind,
        code: code.as_str().to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_are_read_as_numbers_or_strings() {
        assert_eq!(ResultCode::from_raw("0"), Some(ResultCode::new("0")));
        assert_eq!(ResultCode::from_raw("\"0\""), Some(ResultCode::new("0")));
        assert_eq!(
            ResultCode::from_raw("\"SFC_IC0003\""),
            Some(ResultCode::new("SFC_IC0003"))
        );
        assert_eq!(ResultCode::from_raw("1032"), Some(ResultCode::new("1032")));
        assert_eq!(ResultCode::from_raw("1.5"), None);
        // Past 64 bits a JSON reader makes a float of it: refused, not read as its digits.
        assert_eq!(
            ResultCode::from_raw("18446744073709551615"),
            Some(ResultCode::new("18446744073709551615"))
        );
        assert_eq!(ResultCode::from_raw("133333333333333333333333"), None);
        assert_eq!(ResultCode::from_raw("null"), None);
        assert_eq!(ResultCode::from_raw("{}"), None);
    }

    #[test]
    fn each_known_code_has_a_status_and_a_next_step() {
        use FailureKind::*;
        for (code, kind, words) in [
            ("1", Failed, "balance"),
            ("17", Failed, "two minutes"),
            ("1019", TimedOut, "expired"),
            ("1025", Failed, "phone number"),
            ("1032", Cancelled, "cancelled"),
            ("1037", TimedOut, "could not be reached"),
            ("2001", Failed, "PIN"),
            ("2028", Failed, "administrator"),
            ("SFC_IC0003", Failed, "administrator"),
        ] {
            let f = failure(&ResultCode::new(code), "ignored");
            assert_eq!(f.kind, kind, "code {code}");
            assert!(f.message.contains(words), "code {code}: {}", f.message);
        }
        let unknown = failure(&ResultCode::new("9999"), "Something odd");
        assert_eq!(unknown.kind, Failed);
        assert!(unknown.message.contains("9999") && unknown.message.contains("Something odd"));
    }
}

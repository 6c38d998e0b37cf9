//! E-mail through the office's own SMTP server (submission with STARTTLS, or implicit TLS, with
//! a login), by `lettre`: a plain-text body and, for receipts, the PDF attached.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use malipo_domain::Secret;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Submission (usually port 587), upgraded with STARTTLS before the login.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
    /// No encryption: only for a server on this machine or in tests (never with a password
    /// over a network).
    Plain,
}

impl std::str::FromStr for SmtpSecurity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(SmtpSecurity::StartTls),
            "tls" | "ssl" => Ok(SmtpSecurity::Tls),
            "plain" | "none" => Ok(SmtpSecurity::Plain),
            other => Err(format!("'{other}' is not starttls, tls or plain")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender, e.g. `Jubilee Insurance <receipts@jubilee.co.ke>`.
    pub from: String,
}

/// Why an e-mail was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// The address or the message cannot be sent as it is (a permanent SMTP refusal).
    #[error("the mail server refused it: {0}")]
    Refused(String),
    /// Not taken this time (a temporary refusal, the server unreachable): try again later.
    #[error("not sent, to be tried again: {0}")]
    Later(String),
}

/// A PDF to attach.
#[derive(Debug, Clone)]
pub struct Pdf {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    config: SmtpConfig,
}

impl Mailer {
    pub fn new(config: SmtpConfig) -> Mailer {
        Mailer { config }
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Sends one e-mail to `to`.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        body: &str,
        pdf: Option<Pdf>,
    ) -> Result<(), EmailError> {
        let from: Mailbox = self
            .config
            .from
            .parse()
            .map_err(|e| EmailError::Refused(format!("the sender address: {e}")))?;
        let to: Mailbox = to
            .parse()
            .map_err(|e| EmailError::Refused(format!("the address {to:?}: {e}")))?;
        let text = SinglePart::plain(body.to_owned());
        let builder = Message::builder().from(from).to(to).subject(subject);
        let message = match pdf {
            Some(pdf) => {
                let kind = ContentType::parse("application/pdf")
                    .map_err(|e| EmailError::Refused(e.to_string()))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(pdf.file_name).body(pdf.bytes, kind)),
                )
            }
            None => builder.singlepart(text),
        }
        .map_err(|e| EmailError::Refused(e.to_string()))?;
        let c = &self.config;
        let transport = match c.security {
            SmtpSecurity::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host),
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host),
            SmtpSecurity::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &c.host,
            )),
        }
        .map_err(|e| EmailError::Refused(format!("the mail server {}: {e}", c.host)))?;
        let mut transport = transport
            .port(c.port)
            .timeout(Some(Duration::from_secs(30)));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            transport =
                transport.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        match transport.build().send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(EmailError::Refused(e.to_string())),
            Err(e) => Err(EmailError::Later(e.to_string())),
        }
    }
}

//! Receipts: a PDF for a paid payment, in A4 or on an 80 mm roll, marked COPY after the first
//! time, with a QR code of its signed verification link on the company relay; a day's receipts
//! in one PDF for the office file; and printing through the system (CUPS `lp`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use malipo_domain::time_zone::nairobi_date;
use malipo_domain::verification::{self, Vouched};
use malipo_domain::{Action, TxStatus};
use malipo_receipt::{Layout, Office, Receipt};
use malipo_store::{TransactionRecord, TxKey};

use crate::settings::table;
use crate::{Actor, App, Error, Result};

/// A receipt made for a payment.
#[derive(Debug, Clone)]
pub struct ReceiptFile {
    pub pdf: Vec<u8>,
    pub receipt_number: String,
    /// A reprint, marked COPY.
    pub copy: bool,
    /// The verification link its QR code carries (none without a relay).
    pub verify_url: Option<String>,
}

/// A receipt saved to a file, and what printing did when it was asked for.
#[derive(Debug, Clone)]
pub struct SavedReceiptFile {
    pub receipt: ReceiptFile,
    pub path: PathBuf,
    pub printed: Option<Printed>,
}

/// What printing did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Printed {
    /// `printed` (sent to a printer) or `opened` (no printer: opened in the PDF viewer).
    pub how: String,
    /// The printer, or the program that opened it.
    pub via: String,
    /// What the print system said (`request id is …`).
    pub message: String,
}

/// Whether a payment may print as paid: a refused one says why.
fn printable(t: &TransactionRecord) -> Result<&str> {
    match (t.status, &t.receipt_number) {
        (TxStatus::Succeeded | TxStatus::PartiallyRefunded, Some(number)) => Ok(number),
        (TxStatus::Refunded, _) => Err(Error::Conflict(format!(
            "{} was refunded in full; it cannot print as paid",
            t.number
        ))),
        (status, _) => Err(Error::Conflict(format!(
            "{} is {status}; only a paid payment has a receipt",
            t.number
        ))),
    }
}

impl App {
    pub(crate) async fn office_details(&self) -> Result<Office> {
        let get = |k: &'static str| async move {
            Ok::<_, Error>(self.store().setting(k).await?.unwrap_or_default())
        };
        let mut office = Office {
            name: get(table::OFFICE_NAME.key).await?,
            address: get(table::OFFICE_ADDRESS.key).await?,
            phone: get(table::OFFICE_PHONE.key).await?,
            kra_pin: get(table::OFFICE_KRA_PIN.key).await?,
        };
        if office.name.is_empty() {
            office.name = format!("Office {}", self.office_code().await?);
        }
        Ok(office)
    }

    pub(crate) fn receipt_of(
        &self,
        t: &TransactionRecord,
        number: &str,
        office: &Office,
        copy: bool,
    ) -> Receipt {
        let providers = self.providers();
        let verify_url = match providers.relay() {
            Ok(relay) => Some(verification::link(
                relay.base_url(),
                &verification::receipt_key(relay.token().expose()),
                &Vouched {
                    receipt_number: number.to_owned(),
                    amount: t.amount,
                    date: nairobi_date(t.created_at),
                },
            )),
            Err(_) => None,
        };
        Receipt {
            office: office.clone(),
            receipt_number: number.to_owned(),
            paid_at: t.created_at,
            transaction_number: t.number.clone(),
            policy_number: t.policy_number.clone(),
            holder: t.holder.clone(),
            amount: t.amount,
            method: t.method,
            mpesa_receipt: t.provider_receipt.clone().filter(|_| t.method.is_mpesa()),
            card_brand: t.card_brand.clone(),
            card_last4: t.card_last4.clone(),
            tendered: t.tendered,
            method_detail: match (&t.cheque, &t.slip_ref, t.channel.as_deref()) {
                (Some((number, bank, _)), _, _) => Some(format!("no. {number}, {bank}")),
                (None, Some(slip), _) => Some(slip.clone()),
                (None, None, Some(channel)) if channel != "card" => Some(match &t.instrument {
                    Some(i) => format!("{}, {i}", channel.replace('_', " ")),
                    None => channel.replace('_', " "),
                }),
                _ => None,
            },
            provisional: t
                .cheque
                .as_ref()
                .is_some_and(|(_, _, state)| state != "cleared"),
            clerk: t.clerk.clone(),
            copy,
            verify_url,
        }
    }

    /// The receipt of payment `key`: refused unless it is paid and not refunded in full. The
    /// first one is the original; every later one is marked COPY, and each is in the audit log.
    pub async fn receipt(&self, actor: &Actor, key: &str, layout: Layout) -> Result<ReceiptFile> {
        actor.require(Action::TakePayment)?;
        let t = self.store().transaction(&TxKey::parse(key)).await?;
        let number = printable(&t)?.to_owned();
        let office = self.office_details().await?;
        let format = match layout {
            Layout::A4 => "a4",
            Layout::Roll80 => "80mm",
        };
        let earlier = self
            .store()
            .record_receipt_print(actor.name(), &t.number, format, self.now())
            .await?;
        let receipt = self.receipt_of(&t, &number, &office, earlier > 0);
        let pdf = malipo_receipt::render(std::slice::from_ref(&receipt), layout)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(ReceiptFile {
            pdf,
            receipt_number: number,
            copy: receipt.copy,
            verify_url: receipt.verify_url,
        })
    }

    /// Makes the receipt of payment `key` (see [`Self::receipt`]), saves it and prints it
    /// when `print` is set. Without `out` it goes to the data directory's `receipts/` under a
    /// name no other file has (the original `RECEIPT.pdf`, copies `RECEIPT-copy.pdf`,
    /// `RECEIPT-copy-2.pdf`, …): a receipt once saved there is never overwritten.
    pub async fn save_receipt(
        &self,
        actor: &Actor,
        key: &str,
        layout: Layout,
        out: Option<&Path>,
        print: bool,
    ) -> Result<SavedReceiptFile> {
        let receipt = self.receipt(actor, key, layout).await?;
        let path = match out {
            Some(path) => {
                crate::files::write_private_file(path, &receipt.pdf)
                    .map_err(|e| Error::invalid("out", e.to_string()))?;
                path.to_owned()
            }
            None => save_in_spool(self.data_dir(), &receipt)?,
        };
        let printed = if print {
            let printer = self.printer().await?;
            Some(self::print(&path, printer.as_deref())?)
        } else {
            None
        };
        Ok(SavedReceiptFile {
            receipt,
            path,
            printed,
        })
    }

    /// Every paid payment's receipt for the Nairobi day `date`, one per page, marked COPY (the
    /// originals went to the customers), for the office file. Returns the PDF and the count.
    pub async fn day_receipts(
        &self,
        actor: &Actor,
        date: &str,
        layout: Layout,
    ) -> Result<(Vec<u8>, usize)> {
        actor.require(Action::TakePayment)?;
        let day = crate::input::parse_date("date", date)?;
        let office = self.office_details().await?;
        let mut receipts = Vec::new();
        for view in self.day_payments(day).await? {
            let t = self.store().transaction(&TxKey::Id(view.id)).await?;
            if let Ok(number) = printable(&t) {
                receipts.push(self.receipt_of(&t, number, &office, true));
            }
        }
        if receipts.is_empty() {
            return Err(Error::NotFound(format!("no paid payments on {date}")));
        }
        // Oldest first, as the office file reads.
        receipts.sort_by(|a, b| a.receipt_number.cmp(&b.receipt_number));
        let pdf = malipo_receipt::render(&receipts, layout)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok((pdf, receipts.len()))
    }

    /// The printer receipts go to: `MALIPO_PRINTER`, else the `printer.name` setting, else the
    /// system's default printer.
    pub(crate) async fn printer(&self) -> Result<Option<String>> {
        if let Some(p) = std::env::var("MALIPO_PRINTER")
            .ok()
            .filter(|p| !p.is_empty())
        {
            return Ok(Some(p));
        }
        Ok(self
            .store()
            .setting(table::PRINTER.key)
            .await?
            .filter(|p| !p.is_empty()))
    }
}

/// Hands `file` to Windows' print verb (the PDF application's own printing: `Print`, or
/// `PrintTo` a named printer); when no application prints PDFs that way, opens it in the
/// default viewer so the clerk can print from there.
#[cfg(windows)]
pub fn print(file: &Path, printer: Option<&str>) -> Result<Printed> {
    // The path and printer travel in the environment, never spliced into the command line.
    let script = match printer {
        Some(_) => {
            "Start-Process -FilePath $env:MALIPO_PRINT_FILE -Verb PrintTo -ArgumentList ('\"' + $env:MALIPO_PRINTER_NAME + '\"') -WindowStyle Hidden"
        }
        None => "Start-Process -FilePath $env:MALIPO_PRINT_FILE -Verb Print -WindowStyle Hidden",
    };
    let verb = Command::new("powershell")
        .args(["-NoProfile", "-NonInteractive", "-Command", script])
        .env("MALIPO_PRINT_FILE", file)
        .env("MALIPO_PRINTER_NAME", printer.unwrap_or_default())
        .output();
    let verb_failure = match verb {
        Ok(out) if out.status.success() => {
            return Ok(Printed {
                how: "printed".into(),
                via: printer.unwrap_or("the default printer").to_owned(),
                message: "handed to the PDF application's print command".into(),
            });
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => format!("powershell: {e}"),
    };
    match Command::new("explorer.exe").arg(file).status() {
        // Explorer answers 1 even when it opened the file.
        Ok(_) => Ok(Printed {
            how: "opened".into(),
            via: "the default PDF viewer".into(),
            message: format!("not printed ({verb_failure}); opened for printing by hand"),
        }),
        Err(e) => Err(Error::Printer(format!(
            "could not print ({verb_failure}) or open {} ({e}); print that file by hand",
            file.display()
        ))),
    }
}

/// Sends `file` to `printer` (or the default one) with CUPS `lp`; without a print system,
/// opens it in the desktop's PDF viewer so the clerk can print from there.
#[cfg(not(windows))]
pub fn print(file: &Path, printer: Option<&str>) -> Result<Printed> {
    let mut lp = Command::new("lp");
    if let Some(p) = printer {
        lp.args(["-d", p]);
    }
    let lp_failure = match lp.arg(file).output() {
        Ok(out) if out.status.success() => {
            return Ok(Printed {
                how: "printed".into(),
                via: printer.unwrap_or("the default printer").to_owned(),
                message: String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            });
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => format!("lp: {e}"),
    };
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match Command::new(opener).arg(file).status() {
        Ok(status) if status.success() => Ok(Printed {
            how: "opened".into(),
            via: opener.into(),
            message: format!("not printed ({lp_failure}); opened for printing by hand"),
        }),
        _ => Err(Error::Printer(format!(
            "could not print ({lp_failure}) or open {}; print that file by hand",
            file.display()
        ))),
    }
}

/// Writes `receipt` to a new file in the data directory's `receipts/` folder: the original as
/// `RECEIPT.pdf`, a copy as `RECEIPT-copy.pdf`, then `-copy-2`, `-copy-3`, … whichever is free.
fn save_in_spool(data_dir: &Path, receipt: &ReceiptFile) -> Result<PathBuf> {
    let folder = data_dir.join("receipts");
    let number = &receipt.receipt_number;
    for n in 1..=1000 {
        let name = match (receipt.copy, n) {
            (false, 1) => format!("{number}.pdf"),
            (false, n) => format!("{number}-{n}.pdf"),
            (true, 1) => format!("{number}-copy.pdf"),
            (true, n) => format!("{number}-copy-{n}.pdf"),
        };
        let path = folder.join(name);
        if crate::files::write_new_private_file(&path, &receipt.pdf)? {
            return Ok(path);
        }
    }
    Err(Error::internal(format!(
        "a thousand files of receipt {number} in {}",
        folder.display()
    )))
}

//! `malipo`: the office's services from a terminal. Glue only: parse arguments, find out who
//! is acting, call [`malipo_app::App`], print a table or `--json`.
//!
//! Errors print one line on stderr and exit non-zero: 2 bad input, 3 not found, 4 conflict,
//! 5 not signed in or not allowed, 6 the provider could not be reached or refused, 1 anything
//! else.

mod output;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use malipo_receipt::Layout;

use malipo_app::{
    Actor, App, AppError, CardRequest, CashRequest, ChequeRequest, CollectRequest, CompanyQuery,
    Counted, Error, ErrorCode, HistoryQuery, MpesaRequest, NoSecretStore, PaystackMpesaRequest,
    PolicyInput, PolicyQuery, ScheduleQuery, SlipRequest, SummaryQuery,
};
use malipo_domain::schedule::InstalmentStatus;

#[derive(Debug, Parser)]
#[command(
    name = "malipo",
    version,
    about = "Malipo: premiums by M-Pesa and card, at the counter"
)]
struct Cli {
    /// Where the office database lives [default: ~/.local/share/malipo]
    #[arg(long, global = true, env = "MALIPO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    json: bool,
    /// Act as this user (password from MALIPO_PASSWORD or a prompt)
    #[arg(long = "as", global = true, env = "MALIPO_USER", value_name = "USER")]
    user: Option<String>,
    /// Run against the built-in simulator and a local relay (training; no money moves), as the
    /// desktop app does when no provider is configured
    #[arg(long, global = true)]
    demo: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, import, list and show policies
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Take a payment by M-Pesa, card or cash
    #[command(subcommand)]
    Pay(PayCmd),
    /// Cash: each clerk's drawer closed at the end of the day, managers' sign-off, deposits
    #[command(subcommand)]
    Cash(CashCmd),
    /// Cheques received: in hand, banked, cleared or bounced
    #[command(subcommand)]
    Cheque(ChequeCmd),
    /// Bank slips: deposits customers made into the company's account, money once confirmed
    #[command(subcommand)]
    Bank(BankCmd),
    /// Payment history
    #[command(subcommand)]
    Tx(TxCmd),
    /// A customer's saved cards (brand, last four digits, expiry)
    Cards {
        #[arg(long)]
        email: String,
    },
    /// Totals: all, succeeded, pending, failed; by method, by day and by clerk
    Summary(SummaryArgs),
    /// Instalment schedules
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Users and roles
    #[command(subcommand)]
    User(UserCmd),
    /// The office's details, printed on receipts
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Who changed what (managers)
    Audit(AuditArgs),
    /// Compare one day's payments with what Paystack and Safaricom's callbacks confirm; every
    /// difference listed and explained
    Reconcile {
        /// The day, DD/MM/YYYY (Nairobi)
        #[arg(long)]
        date: String,
    },
    /// A paid payment's receipt as PDF: saved with --out, printed with --print (CUPS `lp`;
    /// MALIPO_PRINTER or the printer.name setting, else the default printer). Reprints say COPY
    Receipt {
        id_or_number: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: Option<PathBuf>,
        /// a4 or 80mm (thermal roll)
        #[arg(long, default_value = "a4")]
        format: String,
        #[arg(long)]
        print: bool,
    },
    /// A day's receipts in one PDF for the office file (one page each, marked COPY)
    Receipts {
        /// The day, DD/MM/YYYY (Nairobi)
        #[arg(long)]
        date: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
        /// a4 or 80mm
        #[arg(long, default_value = "a4")]
        format: String,
    },
    /// Check the set-up before going live: M-Pesa, Paystack, the relay and this machine, each
    /// check pass, warn or fail with what to do. Reads only; no money moves. Exits 1 when a
    /// check fails
    Doctor,
    /// Provider events that matched no payment anywhere (managers)
    #[command(subcommand)]
    Orphans(OrphansCmd),
    /// M-Pesa paybill set-up and codes customers bring to the counter
    #[command(subcommand)]
    Mpesa(MpesaCmd),
    /// Paybill payments customers sent from their own phones
    #[command(subcommand)]
    Paybill(PaybillCmd),
    /// The company's suspense list: paybill payments Safaricom confirmed whose account matched
    /// no policy (managers)
    #[command(subcommand)]
    Suspense(SuspenseCmd),
    /// Refunds: clerks request, managers approve or reject
    #[command(subcommand)]
    Refund(RefundCmd),
    /// Customer messages: SMS and e-mail receipts, and instalment reminders
    #[command(subcommand)]
    Messages(MessagesCmd),
    /// Queue today's instalment reminders (the ladder of messages.reminder_days); sent by
    /// `malipo messages send-due` or the running app
    Remind {
        /// List the reminders due today without queueing them
        #[arg(long)]
        dry_run: bool,
    },
    /// Premiums collected without the counter: saved cards charged and M-Pesa prompts sent
    /// for instalments due today (and on the retry days of collect.retry_days)
    #[command(subcommand)]
    Collect(CollectCmd),
    /// Exchange payments and provider events with the company's relay (MALIPO_RELAY_URL,
    /// MALIPO_RELAY_TOKEN), and ask the providers about payments nobody has heard of; runs
    /// until interrupted unless --once
    Sync {
        /// One round, then exit
        #[arg(long)]
        once: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CollectCmd {
    /// Charge the saved card or send the M-Pesa prompt of every policy whose instruction asks
    /// for it and whose instalment is due today or on a retry day; each instalment at most once
    /// a day across the company. The desktop and `malipo sync` do this on their own from
    /// collect.hour
    Due {
        /// Say what would be charged or prompted; change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrphansCmd {
    /// Unresolved orphan events, newest first
    List {
        /// Resolved ones too
        #[arg(long)]
        all: bool,
    },
    /// Record what was done about one
    Resolve {
        /// Its sequence number, from the list
        seq: i64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum MessagesCmd {
    /// Messages, newest first
    List {
        /// queued, sending, sent, delivered, failed or skipped
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        policy: Option<String>,
    },
    /// Queue today's reminders and send every message due (each at most once)
    SendDue,
    /// Send a message again: one that failed, or whose fate is unknown (managers)
    Resend { id: i64 },
}

#[derive(Debug, Subcommand)]
enum MpesaCmd {
    /// Whether M-Pesa is answering (from this office's own calls in the last minutes), and the
    /// ways round it this office has
    Health,
    /// Register the relay's C2B validation and confirmation URLs (MALIPO_MPESA_C2B_*) for this
    /// office's shortcode with Safaricom (administrators)
    RegisterUrls {
        /// What Safaricom does when validation does not answer in time: Completed or Cancelled
        /// [default: the mpesa.c2b_response_type setting, else Completed]
        #[arg(long)]
        response_type: Option<String>,
        /// The RegisterURL product of the shortcode's Daraja app: v2 or v1 [default: the
        /// mpesa.c2b_version setting, else v2]
        #[arg(long)]
        version: Option<String>,
    },
    /// Register the shortcode for Safaricom's Pull Transactions (administrators): sync then
    /// pulls M-Pesa's own list of paybill payments every mpesa.pull_minutes
    RegisterPull {
        /// A Safaricom number of the business, e.g. 0722000000
        #[arg(long)]
        nominated_number: String,
    },
    /// Pull M-Pesa's list of paybill payments for a window now and record those whose
    /// confirmation never came (managers); Safaricom keeps the last 48 hours
    Pull {
        /// Start, "DD/MM/YYYY HH:MM" in Nairobi time [default: 48 hours ago]
        #[arg(long)]
        from: Option<String>,
        /// End, "DD/MM/YYYY HH:MM" [default: now]
        #[arg(long)]
        to: Option<String>,
    },
    /// The statement from the M-Pesa organisation portal: the company's M-Pesa ledger
    #[command(subcommand)]
    Statement(StatementCmd),
    /// Prove the M-Pesa code from a customer's SMS with Safaricom's Transaction Status and
    /// record it for the policy (waits up to 90 seconds for Safaricom's answer)
    Verify {
        /// The code, e.g. RKTQDM7W6S
        code: String,
        #[arg(long)]
        policy: String,
    },
}

#[derive(Debug, Subcommand)]
enum StatementCmd {
    /// Import a statement exported from the M-Pesa organisation portal (XLSX, XLS or CSV):
    /// every row matched, recovered (proven with Transaction Status, then recorded), not a
    /// premium, or refused with why (managers)
    Import {
        file: std::path::PathBuf,
        /// Say what the import would do; ask and record nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PaybillCmd {
    /// Till (Buy Goods) payments waiting to be matched to a policy at the counter
    Till,
    /// Match a till payment to the policy the customer names (proven with Safaricom, then
    /// recorded and receipted here)
    Match {
        /// Its M-Pesa code
        code: String,
        #[arg(long)]
        policy: String,
    },
    /// Paybill payments recorded here, newest first
    List {
        /// From this day, DD/MM/YYYY
        #[arg(long)]
        from: Option<String>,
        /// To this day, DD/MM/YYYY
        #[arg(long)]
        to: Option<String>,
        /// The payer, the code, the policy...
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
        /// The page after this one: the `next` a page printed
        #[arg(long, conflicts_with = "page")]
        after: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SuspenseCmd {
    /// Open suspense payments, newest first
    List {
        /// Decided ones too
        #[arg(long)]
        all: bool,
    },
    /// Allocate one to a policy (recorded and receipted here), or mark it for refund (reverse
    /// it in the M-Pesa portal); decided once for the whole company
    Allocate {
        /// Its M-Pesa code
        trans_id: String,
        #[arg(long, required_unless_present = "refund", conflicts_with = "refund")]
        policy: Option<String>,
        /// Mark it for refund instead
        #[arg(long)]
        refund: bool,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum RefundCmd {
    /// Ask for money back on a paid payment (a manager approves it)
    Request {
        /// The payment's id, number or reference
        id_or_number: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Approve a requested refund and send it to the provider (managers)
    Approve { refund_id: i64 },
    /// Reject a requested refund, saying why (managers)
    Reject {
        refund_id: i64,
        /// Why it is rejected (the clerk who asked sees it)
        #[arg(long)]
        reason: String,
    },
    /// Refunds, newest first
    List {
        /// requested, approved, rejected, processing, processed or failed
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Add one policy with its instalment schedule
    Add(PolicyAddArgs),
    /// Import policies from CSV (header: policy_number,holder_name,phone,email,premium, then
    /// optionally frequency,instalments,start_date,status,currency): new ones added, changed
    /// ones updated, the rest unchanged; one refused row imports nothing. With a relay they go
    /// to the company register
    Import {
        file: PathBuf,
        /// Check every row and report, writing nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List policies with their next instalment, what is overdue and what was paid
    List {
        /// Only those whose number, holder or phone contains this
        #[arg(long)]
        search: Option<String>,
        /// Those with an instalment overdue first, longest overdue first
        #[arg(long)]
        overdue_first: bool,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
    },
    /// One policy with its schedule and payments
    Show { number: String },
    /// How the policy's premiums are collected without the counter: its saved card charged, an
    /// M-Pesa prompt on each due date, or an M-Pesa Ratiba standing order (managers, with the
    /// holder's consent); --off stops it (anyone)
    Collect {
        number: String,
        /// Charge the saved card (the latest one Paystack may charge again, or the one ending
        /// in these digits)
        #[arg(long, value_name = "LAST4", num_args = 0..=1, default_missing_value = "", group = "how")]
        card: Option<String>,
        /// Send an M-Pesa prompt to the policy's phone
        #[arg(long, group = "how")]
        mpesa_prompt: bool,
        /// Create an M-Pesa Ratiba standing order on the holder's phone (they approve it with
        /// their PIN); its runs arrive at the paybill
        #[arg(long, group = "how")]
        ratiba: bool,
        /// Stop: reminders only
        #[arg(long, group = "how")]
        off: bool,
        /// What the holder agreed to
        #[arg(long)]
        consent: Option<String>,
        /// How: in_person, sms_link or mpesa_pin (the default: in_person, and mpesa_pin for
        /// --ratiba)
        #[arg(long)]
        consent_how: Option<String>,
    },
    /// Makes a lapsed policy active again once its arrears are paid (managers; needed when
    /// policy.reinstate is manager)
    Reinstate {
        number: String,
        /// Why, for the audit log
        #[arg(long)]
        note: Option<String>,
    },
    /// A policy's customer messages: the language (en or sw), or the holder opting out or in
    Messages {
        number: String,
        /// en (English) or sw (Kiswahili)
        #[arg(long)]
        language: Option<String>,
        /// The holder wants no more messages
        #[arg(long, conflicts_with = "opt_in")]
        opt_out: bool,
        /// The holder wants messages again
        #[arg(long)]
        opt_in: bool,
    },
}

#[derive(Debug, Args)]
struct PolicyAddArgs {
    #[arg(long)]
    number: String,
    #[arg(long)]
    holder: String,
    #[arg(long)]
    phone: String,
    #[arg(long)]
    email: Option<String>,
    /// Amount due per instalment, e.g. 1,500
    #[arg(long, allow_hyphen_values = true)]
    premium: String,
    /// monthly, quarterly or annually
    #[arg(long, default_value = "monthly")]
    frequency: String,
    #[arg(long, default_value_t = 12)]
    instalments: u32,
    /// First due date, DD/MM/YYYY [default: today]
    #[arg(long)]
    start: Option<String>,
}

#[derive(Debug, Subcommand)]
enum PayCmd {
    /// Send the M-Pesa prompt to the customer's phone
    Mpesa {
        #[arg(long)]
        policy: String,
        /// The phone that pays, e.g. 0712 345 678
        #[arg(long)]
        phone: String,
        /// Whole shillings, e.g. 1,500
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Wait up to this many seconds for the customer, then print the final state
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Send it even though the same payment was started moments ago
        #[arg(long)]
        again: bool,
    },
    /// Open a card checkout (prints the link), or charge a saved card
    Card {
        #[arg(long)]
        policy: String,
        /// The customer's e-mail address (Paystack sends the receipt there)
        #[arg(long)]
        email: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Charge the customer's saved card: the latest one, or the one ending in these digits
        #[arg(long, value_name = "LAST4", num_args = 0..=1, default_missing_value = "latest")]
        saved_card: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        #[arg(long)]
        again: bool,
    },
    /// Record cash handed over at the counter: paid at once, the change worked out
    Cash {
        #[arg(long)]
        policy: String,
        /// What is paid, e.g. 1,250
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// What the customer handed over, e.g. 2,000 (at least the amount)
        #[arg(long, allow_hyphen_values = true)]
        tendered: String,
        /// Record it even though the same payment was recorded moments ago
        #[arg(long)]
        again: bool,
    },
    /// While M-Pesa prompts fail: send the customer the paybill number, the policy number as the
    /// account and the amount (on screen and by SMS); the payment arrives as a paybill payment
    MpesaPaybill {
        #[arg(long)]
        policy: String,
        /// The customer's phone (for the record; the SMS goes to the policy's phone)
        #[arg(long)]
        phone: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
    },
    /// While M-Pesa prompts fail: charge the M-Pesa number through Paystack (Kenya)
    MpesaPaystack {
        #[arg(long)]
        policy: String,
        #[arg(long)]
        phone: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Paystack needs an e-mail [default: the policy's]
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Record a cheque: pays provisionally, its receipt "subject to clearance"
    Cheque {
        #[arg(long)]
        policy: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// The cheque's number as printed
        #[arg(long)]
        number: String,
        #[arg(long)]
        bank: String,
        /// Whose account it is drawn on
        #[arg(long)]
        drawer: String,
        /// The date written on it, DD/MM/YYYY [default: today]; a post-dated cheque is banked
        /// on its date
        #[arg(long)]
        dated: Option<String>,
    },
    /// Record a bank deposit slip the customer brings: awaiting confirmation, not yet money
    Bank {
        #[arg(long)]
        policy: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// The bank's reference on the slip
        #[arg(long)]
        bank_ref: String,
    },
}

#[derive(Debug, Subcommand)]
enum ChequeCmd {
    /// Cheques, by date: received (in hand), banked (awaiting clearance), cleared or bounced
    List {
        #[arg(long)]
        state: Option<String>,
    },
    /// A cheque taken to the bank (not before the date written on it)
    Bank { id_or_number: String },
    /// The bank paid it (managers)
    Clear { id_or_number: String },
    /// The bank returned it unpaid (managers): the payment is reversed, the instalments it paid
    /// open again, the holder told by SMS
    Bounce {
        id_or_number: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum BankCmd {
    /// Bank slips waiting for a manager (all with --all)
    List {
        #[arg(long)]
        all: bool,
    },
    /// The money is in the bank: the slip becomes a paid payment with its receipt (managers)
    Confirm { id_or_number: String },
    /// The money is not in the bank: the slip is not money (managers)
    Reject { id_or_number: String },
    /// Confirm the slips a bank statement (CSV) shows credited with their amount (managers)
    Import {
        file: PathBuf,
        /// The statement's reference and amount columns, e.g. reference=Reference,amount=Credit
        /// (kept for next time)
        #[arg(long)]
        columns: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CashCmd {
    /// Today's cash (or a day's): your drawer, or every drawer and the cash-ups awaiting
    /// sign-off for managers; the office's cash not yet deposited; the latest deposits
    Status {
        /// The day, YYYY-MM-DD (Nairobi) [default: today]
        #[arg(long)]
        day: Option<String>,
    },
    /// Close your drawer for the day with what you counted: a total, or note by note. It takes
    /// no more cash that day
    Close {
        /// The total counted, e.g. 12,450
        #[arg(long, required_unless_present = "notes", conflicts_with = "notes")]
        counted: Option<String>,
        /// The count by denomination, e.g. 1000x10,500x4,50x9
        #[arg(long)]
        notes: Option<String>,
        /// The day, YYYY-MM-DD [default: today]
        #[arg(long)]
        day: Option<String>,
    },
    /// Sign off a clerk's closed drawer (managers); a note is needed when it is short or over
    SignOff {
        /// The clerk's username
        clerk: String,
        /// The day, YYYY-MM-DD [default: today]
        #[arg(long)]
        day: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Record cash taken to the bank, with the reference on the deposit slip
    Deposit {
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        bank_ref: String,
    },
}

#[derive(Debug, Subcommand)]
enum TxCmd {
    /// Payments, newest first
    List {
        /// pending, awaiting_customer, succeeded, failed, cancelled, timed_out, needs_review, refunded, partially_refunded, awaiting_confirmation, bounced
        #[arg(long)]
        status: Option<String>,
        /// mpesa, card, paybill or cash
        #[arg(long)]
        method: Option<String>,
        /// First day, DD/MM/YYYY (Nairobi)
        #[arg(long)]
        from: Option<String>,
        /// Last day, DD/MM/YYYY (Nairobi), included
        #[arg(long)]
        to: Option<String>,
        /// Number, policy, holder, phone or receipt
        #[arg(long, conflicts_with = "company")]
        search: Option<String>,
        /// Every counter's payments as this one knows them (a clerk sees their own branch)
        #[arg(long)]
        company: bool,
        /// With --company: one branch (office code) only (managers)
        #[arg(long, requires = "company")]
        branch: Option<String>,
        /// With --company: one policy's payments
        #[arg(long, requires = "company")]
        policy: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
        /// The page after this one: the `next` a page printed (walking forward costs the same
        /// on any page)
        #[arg(long, conflicts_with_all = ["page", "company"])]
        after: Option<String>,
    },
    /// One payment by id, number or reference (by number, also another counter's)
    Show { id_or_number: String },
    /// Ask the provider where a payment stands (STK query / Paystack verify)
    Refresh {
        id_or_number: String,
        /// Keep asking for up to this many seconds until it is final
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
}

#[derive(Debug, Args)]
struct SummaryArgs {
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// KES, NGN, GHS, ZAR or USD [default: the office's currency]
    #[arg(long)]
    currency: Option<String>,
    /// The whole company, from the relay: every branch and counter (managers)
    #[arg(long)]
    company: bool,
    /// With --company: one branch (office code) only
    #[arg(long, requires = "company")]
    branch: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ScheduleCmd {
    /// Instalments and where they stand
    List {
        /// Only instalments not yet due or due today
        #[arg(long, conflicts_with = "overdue")]
        pending: bool,
        /// Only instalments past their due date and not fully paid
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        policy: Option<String>,
        /// As of this day, DD/MM/YYYY [default: today in Nairobi]
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Add a user; the password comes from MALIPO_NEW_PASSWORD, the first line of stdin, or a prompt
    Add {
        #[arg(long)]
        username: String,
        /// clerk, manager or admin
        #[arg(long)]
        role: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum SettingsCmd {
    /// office.code, office.name, office.address, office.phone, office.kra_pin, office.currency,
    /// the provider settings, messages.reminder_days (e.g. -7,-3,0,3), messages.quiet_hours and
    /// the message templates (template.receipt_sms.en, …)
    Set {
        key: String,
        /// The value (it may begin with a minus sign: -7,-3,0,3)
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    List,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// transaction, policy, user, setting, secret or app (updates installed: --id malipo)
    #[arg(long, requires = "id")]
    entity: Option<String>,
    #[arg(long)]
    id: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::InvalidInput => 2,
        ErrorCode::NotFound => 3,
        ErrorCode::Conflict | ErrorCode::LikelyRepeat | ErrorCode::RateLimited => 4,
        ErrorCode::Unauthenticated | ErrorCode::Forbidden => 5,
        ErrorCode::Provider => 6,
        ErrorCode::Internal => 1,
    }
}

/// The services say what is wrong in words any interface can show; the CLI adds how to go on
/// from a terminal.
fn shown(e: Error) -> AppError {
    let hint = match &e {
        Error::LikelyRepeat { .. } => Some(" (use --again to insist)"),
        Error::SignInRequired => Some(
            ": name yourself with --as USER (or MALIPO_USER) and give your password (MALIPO_PASSWORD or the prompt)",
        ),
        Error::UnknownPolicy(_) => Some("; check the number with `malipo policy list --search`"),
        Error::NotConfigured { .. } => Some(" (or try it with --demo)"),
        _ => None,
    };
    let mut shown = AppError::from(e);
    if let Some(hint) = hint {
        shown.message.push_str(hint);
    }
    shown
}

/// Clap's message squeezed onto one line: what is wrong, without the usage block.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first_block = text.split("\n\n").next().unwrap_or_default();
    first_block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_owned()
}

fn main() -> ExitCode {
    malipo_app::keep_new_files_private();
    malipo_app::prepare_keyring();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("malipo: {} (see malipo --help)", one_line(&e));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("malipo: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = if matches!(cli.command, Command::Doctor) {
        runtime.block_on(doctor(cli)).map(|passed| {
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        })
    } else {
        runtime.block_on(run(cli)).map(|()| ExitCode::SUCCESS)
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            let e = shown(e);
            eprintln!("malipo: {}", e.message);
            ExitCode::from(exit_code(e.code))
        }
    }
}

type Result<T = ()> = std::result::Result<T, Error>;

/// What every command needs: the office, where output goes, who says they are acting.
struct Ctx {
    app: App,
    out: output::Output,
    data_dir: PathBuf,
    user: Option<String>,
    /// The simulator and relay of `--demo`, running while the command does.
    _demo: Option<malipo_demo::Demo>,
}

impl Ctx {
    /// `configure`: build the provider clients from the settings (every command but `doctor`,
    /// which reads the settings itself so that a broken one is a finding, not a stop).
    async fn open(cli: &Cli, configure: bool) -> Result<Ctx> {
        let data_dir = cli
            .data_dir
            .clone()
            .unwrap_or_else(malipo_app::default_data_dir);
        let app = App::open(&data_dir).await?;
        let demo = if cli.demo {
            let demo = malipo_demo::start(&data_dir).await?;
            app.configure(demo.settings.clone());
            Some(demo)
        } else {
            if configure {
                // The CLI reads secrets from the environment only.
                app.configure(app.provider_settings(&NoSecretStore::default()).await?);
            }
            None
        };
        Ok(Ctx {
            app,
            out: output::Output { json: cli.json },
            data_dir,
            user: cli.user.clone(),
            _demo: demo,
        })
    }

    /// Who reads: the user named with `--as` (signed in, with their role's limits), else the
    /// computer account itself ([`Actor::Console`]), which may read and nothing else.
    async fn reader(&self) -> Result<Actor> {
        if self.user.is_some() {
            return self.actor().await;
        }
        if self.app.in_setup_mode().await? {
            return Ok(Actor::Setup);
        }
        Ok(Actor::Console)
    }

    /// The acting user for a write: set-up mode, or `--as` with a password.
    async fn actor(&self) -> Result<Actor> {
        let app = &self.app;
        if app.in_setup_mode().await? {
            return Ok(Actor::Setup);
        }
        let Some(user) = self.user.as_deref() else {
            return app.actor(None).await;
        };
        let password = match std::env::var("MALIPO_PASSWORD") {
            Ok(p) => p,
            Err(_) if std::io::stdin().is_terminal() => {
                rpassword::prompt_password(format!("Password for {user}: "))
                    .map_err(|e| Error::Unauthenticated(format!("cannot read the password: {e}")))?
            }
            Err(_) => {
                return Err(Error::Unauthenticated(
                    "no password: set MALIPO_PASSWORD or run in a terminal to be asked".into(),
                ));
            }
        };
        app.actor(Some((user, &password))).await
    }
}

fn new_password() -> Result<String> {
    if let Ok(p) = std::env::var("MALIPO_NEW_PASSWORD") {
        return Ok(p);
    }
    let unreadable = |e: std::io::Error| Error::invalid("password", format!("cannot read it: {e}"));
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New user's password: ").map_err(unreadable)?;
        let again = rpassword::prompt_password("Type it again: ").map_err(unreadable)?;
        if first != again {
            return Err(Error::invalid("password", "the two passwords differ"));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(unreadable)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Writes a file the user named with `--out` (creating its folder), or says why it cannot.
fn write_out(path: &std::path::Path, bytes: &[u8]) -> Result {
    malipo_app::write_private_file(path, bytes).map_err(|e| Error::invalid("out", e))
}

fn doctor_elsewhere() -> Result {
    Err(Error::internal("malipo doctor runs on its own"))
}

/// `malipo doctor`: prints the report; `Ok(false)` when a check failed.
async fn doctor(cli: Cli) -> Result<bool> {
    let ctx = Ctx::open(&cli, false).await?;
    // The office's keyring too, where the desktop keeps its secrets; the environment still wins.
    let secrets: Box<dyn malipo_app::SecretStore> =
        match malipo_app::OsKeyring::for_office(&ctx.data_dir) {
            Ok(k) => Box::new(k),
            Err(why) => Box::new(NoSecretStore { why: Some(why) }),
        };
    let running = ctx._demo.as_ref().map(|d| &d.settings);
    let report = ctx.app.doctor(secrets.as_ref(), running).await?;
    ctx.out.doctor(&report);
    Ok(!report.failed())
}

async fn run(cli: Cli) -> Result {
    let ctx = Ctx::open(&cli, true).await?;
    match cli.command {
        Command::Policy(c) => policy(&ctx, c).await,
        Command::Pay(c) => pay(&ctx, c).await,
        Command::Tx(c) => tx(&ctx, c).await,
        Command::Cash(c) => cash(&ctx, c).await,
        Command::Cheque(c) => cheque(&ctx, c).await,
        Command::Bank(c) => bank(&ctx, c).await,
        Command::Cards { email } => {
            ctx.out
                .cards(&ctx.app.saved_cards(&ctx.reader().await?, &email).await?);
            Ok(())
        }
        Command::Summary(s) => {
            let q = SummaryQuery {
                from: s.from,
                to: s.to,
                currency: s.currency,
                office: s.branch,
            };
            if s.company {
                let actor = ctx.actor().await?;
                ctx.out
                    .company_summary(&ctx.app.company_summary(&actor, &q).await?);
            } else {
                ctx.out
                    .summary(&ctx.app.summary(&ctx.reader().await?, &q).await?);
            }
            Ok(())
        }
        Command::Schedule(c) => schedule(&ctx, c).await,
        Command::User(c) => user(&ctx, c).await,
        Command::Settings(c) => settings(&ctx, c).await,
        Command::Audit(a) => {
            let actor = ctx.actor().await?;
            let entity = a.entity.as_deref().zip(a.id.as_deref());
            ctx.out
                .audit(&ctx.app.audit_log(&actor, entity, a.limit).await?);
            Ok(())
        }
        Command::Reconcile { date } => {
            let actor = ctx.actor().await?;
            ctx.out.reconcile(&ctx.app.reconcile(&actor, &date).await?);
            Ok(())
        }
        Command::Receipt {
            id_or_number,
            out,
            format,
            print,
        } => receipt(&ctx, &id_or_number, out, &format, print).await,
        Command::Receipts { date, out, format } => receipts(&ctx, &date, &out, &format).await,
        // Handled before `run`, apart: its report is its outcome.
        Command::Doctor => doctor_elsewhere(),
        Command::Orphans(c) => orphans(&ctx, c).await,
        Command::Mpesa(c) => mpesa(&ctx, c).await,
        Command::Paybill(PaybillCmd::List {
            from,
            to,
            search,
            page,
            per_page,
            after,
        }) => {
            let q = HistoryQuery {
                status: None,
                method: Some("paybill".into()),
                from,
                to,
                search,
                page: Some(page),
                per_page: Some(per_page),
                // A page walked to says so: its place among the pages is not counted.
                after: after.clone(),
            };
            let page = if after.is_some() { 0 } else { page };
            ctx.out.transactions(
                &ctx.app.history(&ctx.reader().await?, &q).await?,
                page,
                per_page,
            );
            Ok(())
        }
        Command::Paybill(PaybillCmd::Till) => {
            let actor = ctx.actor().await?;
            ctx.out.suspense(&ctx.app.till_arrivals(&actor).await?);
            Ok(())
        }
        Command::Paybill(PaybillCmd::Match { code, policy }) => {
            let actor = ctx.actor().await?;
            ctx.out
                .suspense_decided(&ctx.app.match_till(&actor, &code, &policy).await?);
            Ok(())
        }
        Command::Suspense(c) => suspense(&ctx, c).await,
        Command::Messages(c) => messages(&ctx, c).await,
        Command::Remind { dry_run } => {
            if dry_run {
                ctx.out
                    .reminders(&ctx.app.reminders_due(&ctx.reader().await?).await?);
            } else {
                let n = ctx.app.queue_reminders(&ctx.actor().await?).await?;
                ctx.out.done(&format!("{n} reminders queued."));
            }
            Ok(())
        }
        Command::Refund(c) => refund(&ctx, c).await,
        Command::Collect(CollectCmd::Due { dry_run }) => {
            let actor = if dry_run {
                ctx.reader().await?
            } else {
                ctx.actor().await?
            };
            ctx.out
                .collected(&ctx.app.collect_due(&actor, dry_run).await?);
            Ok(())
        }
        Command::Sync { once } => sync(&ctx, once).await,
    }
}

async fn policy(ctx: &Ctx, command: PolicyCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        PolicyCmd::Add(a) => {
            let actor = ctx.actor().await?;
            let input = PolicyInput {
                number: a.number,
                holder: a.holder,
                phone: a.phone,
                email: a.email,
                premium: a.premium,
                frequency: Some(a.frequency),
                instalments: Some(a.instalments),
                start: a.start,
                status: None,
            };
            out.policy(&app.add_policy(&actor, &input).await?);
        }
        PolicyCmd::Import { file, dry_run } => {
            let mut text = Vec::new();
            std::fs::File::open(&file)
                .and_then(|mut f| f.read_to_end(&mut text))
                .map_err(|e| {
                    Error::invalid("file", format!("cannot read {}: {e}", file.display()))
                })?;
            let actor = ctx.actor().await?;
            let report = app
                .import_policies(&actor, text.as_slice(), dry_run)
                .await?;
            out.import(&report);
            if let Some(first) = report.refused.first() {
                let more = match report.refused.len() - 1 {
                    0 => String::new(),
                    1 => " (and 1 more row)".to_owned(),
                    n => format!(" (and {n} more rows)"),
                };
                return Err(Error::invalid(
                    "CSV",
                    format!("{first}{more}; nothing was imported"),
                ));
            }
        }
        PolicyCmd::List {
            search,
            overdue_first,
            page,
            per_page,
        } => {
            let q = PolicyQuery {
                search,
                overdue_first,
                page: Some(page),
                per_page: Some(per_page),
            };
            out.policies(
                &app.policies(&ctx.reader().await?, &q).await?,
                page,
                per_page,
            )
        }
        PolicyCmd::Collect {
            number,
            card,
            mpesa_prompt,
            ratiba,
            off,
            consent,
            consent_how,
        } => {
            let kind = match (&card, mpesa_prompt, ratiba, off) {
                (Some(_), ..) => "card",
                (None, true, ..) => "mpesa_prompt",
                (None, false, true, _) => "ratiba",
                (None, false, false, true) => "none",
                (None, false, false, false) => {
                    return Err(Error::invalid(
                        "how",
                        "give --card [LAST4], --mpesa-prompt, --ratiba or --off",
                    ));
                }
            };
            let actor = ctx.actor().await?;
            let request = CollectRequest {
                policy: number,
                kind: kind.to_owned(),
                card_last4: card.filter(|c| !c.is_empty()),
                consent,
                consent_how,
            };
            out.collection(&app.set_collection(&actor, &request).await?);
        }
        PolicyCmd::Reinstate { number, note } => {
            let actor = ctx.actor().await?;
            out.policy(
                &app.reinstate_policy(&actor, &number, note.as_deref())
                    .await?,
            );
        }
        PolicyCmd::Show { number } => {
            out.policy_details(&app.policy_details(&ctx.reader().await?, &number).await?)
        }
        PolicyCmd::Messages {
            number,
            language,
            opt_out,
            opt_in,
        } => {
            let actor = ctx.actor().await?;
            let opted = match (opt_out, opt_in) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            app.policy_messages(&actor, &number, language.as_deref(), opted)
                .await?;
            out.done(&format!(
                "Messages for policy {} updated.",
                number.trim().to_uppercase()
            ));
        }
    }
    Ok(())
}

async fn pay(ctx: &Ctx, command: PayCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    let actor = ctx.actor().await?;
    let (view, wait) = match command {
        PayCmd::Mpesa {
            policy,
            phone,
            amount,
            wait,
            again,
        } => {
            let request = MpesaRequest {
                policy,
                phone,
                amount,
                again,
            };
            let view = app.pay_mpesa(&actor, &request).await?;
            if let Some(seconds) = wait.filter(|_| view.open && !out.json) {
                eprintln!(
                    "Prompt sent to {}; waiting for the customer (up to {seconds} s)…",
                    view.phone.as_deref().unwrap_or("the phone")
                );
            }
            (view, wait)
        }
        PayCmd::Card {
            policy,
            email,
            amount,
            saved_card,
            wait,
            again,
        } => {
            let request = CardRequest {
                policy,
                email,
                amount,
                again,
                saved_card,
            };
            let view = app.pay_card(&actor, &request).await?;
            if !out.json
                && let Some(url) = view.authorization_url.as_deref().filter(|_| view.open)
            {
                println!(
                    "Open this link to pay (or show it as a QR code to the customer):\n{url}\n"
                );
            }
            (view, wait)
        }
        PayCmd::Cash {
            policy,
            amount,
            tendered,
            again,
        } => {
            let request = CashRequest {
                policy,
                amount,
                tendered,
                again,
            };
            (app.pay_cash(&actor, &request).await?, None)
        }
        PayCmd::MpesaPaybill {
            policy,
            phone,
            amount,
        } => {
            let request = MpesaRequest {
                policy,
                phone,
                amount,
                again: false,
            };
            out.paybill_route(&app.paybill_route(&actor, &request).await?);
            return Ok(());
        }
        PayCmd::MpesaPaystack {
            policy,
            phone,
            amount,
            email,
            wait,
        } => {
            let request = PaystackMpesaRequest {
                policy,
                phone,
                amount,
                email,
            };
            (app.pay_mpesa_paystack(&actor, &request).await?, wait)
        }
        PayCmd::Cheque {
            policy,
            amount,
            number,
            bank,
            drawer,
            dated,
        } => {
            let request = ChequeRequest {
                policy,
                amount,
                number,
                bank,
                drawer,
                dated,
            };
            out.cheque(&app.pay_cheque(&actor, &request).await?);
            return Ok(());
        }
        PayCmd::Bank {
            policy,
            amount,
            bank_ref,
        } => {
            let request = SlipRequest {
                policy,
                amount,
                bank_ref,
            };
            out.slip(&app.pay_bank(&actor, &request).await?);
            return Ok(());
        }
    };
    let view = match wait {
        Some(seconds) if view.open => app.wait_for(&actor, &view.number, seconds).await?,
        _ => view,
    };
    out.transaction(&view);
    Ok(())
}

async fn tx(ctx: &Ctx, command: TxCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        TxCmd::List {
            company: true,
            status,
            from,
            to,
            branch,
            policy,
            page,
            per_page,
            ..
        } => {
            let actor = ctx.actor().await?;
            let q = CompanyQuery {
                office: branch,
                status,
                policy,
                from,
                to,
                page: Some(page),
                per_page: Some(per_page),
            };
            out.transactions(&app.company_history(&actor, &q).await?, page, per_page);
        }
        TxCmd::List {
            status,
            method,
            from,
            to,
            search,
            page,
            per_page,
            after,
            ..
        } => {
            let q = HistoryQuery {
                status,
                method,
                from,
                to,
                search,
                page: Some(page),
                per_page: Some(per_page),
                // A page walked to says so: its place among the pages is not counted.
                after: after.clone(),
            };
            let page = if after.is_some() { 0 } else { page };
            out.transactions(
                &app.history(&ctx.reader().await?, &q).await?,
                page,
                per_page,
            );
        }
        TxCmd::Show { id_or_number } => {
            out.transaction(&app.transaction(&ctx.reader().await?, &id_or_number).await?)
        }
        TxCmd::Refresh { id_or_number, wait } => {
            let actor = ctx.actor().await?;
            let view = match wait {
                Some(seconds) => app.wait_for(&actor, &id_or_number, seconds).await?,
                None => app.refresh(&actor, &id_or_number).await?.0,
            };
            out.transaction(&view);
        }
    }
    Ok(())
}

async fn schedule(ctx: &Ctx, command: ScheduleCmd) -> Result {
    let ScheduleCmd::List {
        pending,
        overdue,
        policy,
        date,
    } = command;
    let status = match (pending, overdue) {
        (true, _) => Some(InstalmentStatus::Pending),
        (_, true) => Some(InstalmentStatus::Overdue),
        _ => None,
    };
    let q = ScheduleQuery {
        status,
        policy,
        date,
    };
    ctx.out
        .schedule(&ctx.app.schedule(&ctx.reader().await?, &q).await?);
    Ok(())
}

async fn user(ctx: &Ctx, command: UserCmd) -> Result {
    let actor = ctx.actor().await?;
    match command {
        UserCmd::Add { username, role } => {
            let password = new_password()?;
            ctx.out.user(
                &ctx.app
                    .add_user(&actor, &username, &role, &password)
                    .await?,
            );
        }
        UserCmd::List => ctx.out.users(&ctx.app.users(&actor).await?),
    }
    Ok(())
}

async fn settings(ctx: &Ctx, command: SettingsCmd) -> Result {
    match command {
        SettingsCmd::Set { key, value } => {
            let actor = ctx.actor().await?;
            ctx.app.set_setting(&actor, &key, &value).await?;
        }
        SettingsCmd::List => {}
    }
    ctx.out
        .settings(&ctx.app.settings(&ctx.reader().await?).await?);
    Ok(())
}

async fn receipt(
    ctx: &Ctx,
    id_or_number: &str,
    file: Option<PathBuf>,
    format: &str,
    print: bool,
) -> Result {
    let layout: Layout = format
        .parse()
        .map_err(|e: String| Error::invalid("format", e))?;
    if file.is_none() && !print {
        return Err(Error::invalid(
            "receipt",
            "say where it goes: --out FILE.pdf, --print, or both",
        ));
    }
    let actor = ctx.actor().await?;
    let saved = ctx
        .app
        .save_receipt(&actor, id_or_number, layout, file.as_deref(), print)
        .await?;
    ctx.out
        .receipt(&saved.receipt, &saved.path, saved.printed.as_ref());
    Ok(())
}

async fn receipts(ctx: &Ctx, date: &str, file: &std::path::Path, format: &str) -> Result {
    let layout: Layout = format
        .parse()
        .map_err(|e: String| Error::invalid("format", e))?;
    let actor = ctx.actor().await?;
    let (pdf, count) = ctx.app.day_receipts(&actor, date, layout).await?;
    write_out(file, &pdf)?;
    let receipts = if count == 1 { "receipt" } else { "receipts" };
    ctx.out.done(&format!(
        "{count} {receipts} of {} saved to {}",
        output::kenyan_date(date),
        file.display()
    ));
    Ok(())
}

async fn orphans(ctx: &Ctx, command: OrphansCmd) -> Result {
    let actor = ctx.actor().await?;
    match command {
        OrphansCmd::List { all } => ctx.out.orphans(&ctx.app.orphans(&actor, all).await?),
        OrphansCmd::Resolve { seq, note } => {
            ctx.app.resolve_orphan(&actor, seq, &note).await?;
            ctx.out.done(&format!("Orphan event {seq} resolved."));
        }
    }
    Ok(())
}

async fn mpesa(ctx: &Ctx, command: MpesaCmd) -> Result {
    let actor = ctx.actor().await?;
    match command {
        MpesaCmd::Health => ctx.out.mpesa_routes(&ctx.app.mpesa_routes(&actor).await?),
        MpesaCmd::RegisterUrls {
            response_type,
            version,
        } => ctx.out.registered_urls(
            &ctx.app
                .register_c2b_urls(&actor, response_type.as_deref(), version.as_deref())
                .await?,
        ),
        MpesaCmd::RegisterPull { nominated_number } => ctx
            .out
            .pull_registered(&ctx.app.register_pull(&actor, &nominated_number).await?),
        MpesaCmd::Pull { from, to } => ctx.out.pulled(
            &ctx.app
                .pull_mpesa(&actor, from.as_deref(), to.as_deref())
                .await?,
        ),
        MpesaCmd::Statement(StatementCmd::Import { file, dry_run }) => ctx
            .out
            .statement_import(&ctx.app.import_statement(&actor, &file, dry_run).await?),
        MpesaCmd::Verify { code, policy } => ctx
            .out
            .transaction(&ctx.app.verify_code(&actor, &code, &policy).await?),
    }
    Ok(())
}

async fn messages(ctx: &Ctx, command: MessagesCmd) -> Result {
    let actor = ctx.actor().await?;
    match command {
        MessagesCmd::List { status, policy } => ctx.out.messages(
            &ctx.app
                .messages(&actor, status.as_deref(), policy.as_deref())
                .await?,
        ),
        MessagesCmd::SendDue => {
            ctx.out.send_report(&ctx.app.send_messages(&actor).await?);
        }
        MessagesCmd::Resend { id } => ctx
            .out
            .messages(&[ctx.app.resend_message(&actor, id).await?]),
    }
    Ok(())
}

async fn suspense(ctx: &Ctx, command: SuspenseCmd) -> Result {
    let actor = ctx.actor().await?;
    match command {
        SuspenseCmd::List { all } => ctx.out.suspense(&ctx.app.suspense(&actor, all).await?),
        SuspenseCmd::Allocate {
            trans_id,
            policy,
            refund: _,
            note,
        } => ctx.out.suspense_decided(
            &ctx.app
                .decide_suspense(&actor, &trans_id, policy.as_deref(), &note)
                .await?,
        ),
    }
    Ok(())
}

async fn cheque(ctx: &Ctx, command: ChequeCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        ChequeCmd::List { state } => {
            out.cheques(&app.cheques(&ctx.reader().await?, state.as_deref()).await?)
        }
        ChequeCmd::Bank { id_or_number } => {
            out.cheque(&app.bank_cheque(&ctx.actor().await?, &id_or_number).await?)
        }
        ChequeCmd::Clear { id_or_number } => {
            out.cheque(&app.clear_cheque(&ctx.actor().await?, &id_or_number).await?)
        }
        ChequeCmd::Bounce {
            id_or_number,
            reason,
        } => out.cheque(
            &app.bounce_cheque(&ctx.actor().await?, &id_or_number, &reason)
                .await?,
        ),
    }
    Ok(())
}

async fn bank(ctx: &Ctx, command: BankCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        BankCmd::List { all } => out.slips(&app.bank_slips(&ctx.reader().await?, all).await?),
        BankCmd::Confirm { id_or_number } => out.slip(
            &app.confirm_slip(&ctx.actor().await?, &id_or_number, true)
                .await?,
        ),
        BankCmd::Reject { id_or_number } => out.slip(
            &app.confirm_slip(&ctx.actor().await?, &id_or_number, false)
                .await?,
        ),
        BankCmd::Import { file, columns } => {
            let actor = ctx.actor().await?;
            // Read one byte past the limit, so a larger file is refused rather than cut.
            let mut bytes = Vec::new();
            std::fs::File::open(&file)
                .and_then(|f| f.take(10 * 1024 * 1024 + 1).read_to_end(&mut bytes))
                .map_err(|e| {
                    Error::invalid("file", format!("cannot read {}: {e}", file.display()))
                })?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::invalid(
                    "file",
                    "the statement is not text (save it from the bank as CSV)",
                )
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.bank_statement(
                &app.import_bank_statement(&actor, &name, &text, columns.as_deref())
                    .await?,
            );
        }
    }
    Ok(())
}

async fn cash(ctx: &Ctx, command: CashCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        CashCmd::Status { day } => out.cash_report(
            &app.cash_report(&ctx.reader().await?, day.as_deref())
                .await?,
        ),
        CashCmd::Close {
            counted,
            notes,
            day,
        } => {
            let counted = notes
                .map(Counted::Denominations)
                .or(counted.map(Counted::Total))
                .ok_or_else(|| Error::invalid("counted", "give --counted or --notes"))?;
            let actor = ctx.actor().await?;
            out.drawer(&app.close_cash(&actor, &counted, day.as_deref()).await?);
        }
        CashCmd::SignOff { clerk, day, note } => {
            let actor = ctx.actor().await?;
            out.drawer(
                &app.sign_off_cash(&actor, &clerk, day.as_deref(), note.as_deref())
                    .await?,
            );
        }
        CashCmd::Deposit { amount, bank_ref } => {
            let actor = ctx.actor().await?;
            out.deposit(&app.deposit_cash(&actor, &amount, &bank_ref).await?);
        }
    }
    Ok(())
}

async fn refund(ctx: &Ctx, command: RefundCmd) -> Result {
    let (app, out) = (&ctx.app, &ctx.out);
    match command {
        RefundCmd::Request {
            id_or_number,
            amount,
            reason,
        } => {
            let actor = ctx.actor().await?;
            out.refund(
                &app.request_refund(&actor, &id_or_number, &amount, &reason)
                    .await?,
            );
        }
        RefundCmd::Approve { refund_id } => {
            let actor = ctx.actor().await?;
            out.refund(&app.approve_refund(&actor, refund_id).await?);
        }
        RefundCmd::Reject { refund_id, reason } => {
            let actor = ctx.actor().await?;
            out.refund(&app.reject_refund(&actor, refund_id, &reason).await?);
        }
        RefundCmd::List { status } => {
            out.refunds(&app.refunds(&ctx.reader().await?, status.as_deref()).await?)
        }
    }
    Ok(())
}

async fn sync(ctx: &Ctx, once: bool) -> Result {
    if once {
        ctx.out.sync(&ctx.app.sync_once().await?);
        return Ok(());
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    // Customer messages go out while it syncs (delivery reports come back through the relay).
    let messages = ctx.app.messages_forever(stopped(rx.clone()), |_| {});
    // Due-day charges and prompts, from the collection hour.
    let collecting = ctx
        .app
        .collect_forever(stopped(rx.clone()), |r| ctx.out.collected(r));
    let syncing = ctx.app.sync_forever(stopped(rx), |round| match round {
        Ok(report) => ctx.out.sync(report),
        Err(e) => eprintln!("malipo: sync: {e}"),
    });
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
        let _ = tx.send(true);
    };
    let ((), (), result, ()) = tokio::join!(messages, collecting, syncing, interrupt);
    result
}

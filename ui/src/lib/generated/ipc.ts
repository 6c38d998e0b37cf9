// Generated from the Rust declarations in crates/app (src/ipc.rs and the views);
// do not edit. Regenerate: MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings

/** Every command the desktop shell registers. */
export type Command = "app_info" | "create_admin" | "sign_in" | "sign_out" | "list_policies" | "add_policy" | "correct_policy" | "import_policies" | "pay_mpesa" | "pay_card" | "mpesa_routes" | "paybill_route" | "pay_mpesa_paystack" | "pay_cash" | "cash_report" | "close_cash" | "sign_off_cash" | "deposit_cash" | "pay_cheque" | "cheques" | "bank_cheque" | "clear_cheque" | "bounce_cheque" | "pay_bank" | "bank_slips" | "confirm_slip" | "import_bank_statement" | "qr_code" | "payment_status" | "save_receipt" | "history" | "company_history" | "export_history" | "policy_details" | "set_collection" | "reinstate_policy" | "saved_cards" | "dashboard" | "refunds" | "request_refund" | "approve_refund" | "reject_refund" | "orphans" | "resolve_orphan" | "recent_paybill" | "verify_code" | "suspense" | "till_arrivals" | "match_till" | "decide_suspense" | "demo_pay_bill" | "messages" | "resend_message" | "send_messages" | "policy_messages" | "reconcile" | "import_statement" | "audit_log" | "settings" | "save_setting" | "save_secret" | "users" | "add_user" | "check_input" | "doctor" | "check_update" | "install_update" | "restart_app" | "ui_ready";

/** Each command's request (`null`: it takes none) and response. */
export type Commands = {
  app_info: { request: null; response: AppInfo };
  create_admin: { request: Credentials; response: SessionView };
  sign_in: { request: Credentials; response: SessionView };
  sign_out: { request: null; response: null };
  list_policies: { request: PolicySearch; response: List<PolicyRow> };
  add_policy: { request: PolicyForm; response: PolicyView };
  correct_policy: { request: PolicyForm; response: PolicyCorrected };
  import_policies: { request: ImportPolicies; response: ImportReport };
  pay_mpesa: { request: MpesaRequest; response: TransactionView };
  pay_card: { request: CardRequest; response: TransactionView };
  mpesa_routes: { request: null; response: MpesaRoutes };
  paybill_route: { request: MpesaRequest; response: PaybillRoute };
  pay_mpesa_paystack: { request: PaystackMpesaRequest; response: TransactionView };
  pay_cash: { request: CashRequest; response: TransactionView };
  cash_report: { request: CashDay; response: CashReport };
  close_cash: { request: CloseCash; response: DrawerView };
  sign_off_cash: { request: SignOffCash; response: DrawerView };
  deposit_cash: { request: DepositCash; response: DepositView };
  pay_cheque: { request: ChequeRequest; response: ChequeView };
  cheques: { request: ChequesFilter; response: Array<ChequeView> };
  bank_cheque: { request: ByNumber; response: ChequeView };
  clear_cheque: { request: ByNumber; response: ChequeView };
  bounce_cheque: { request: BounceCheque; response: ChequeView };
  pay_bank: { request: SlipRequest; response: SlipView };
  bank_slips: { request: SlipsFilter; response: Array<SlipView> };
  confirm_slip: { request: ConfirmSlip; response: SlipView };
  import_bank_statement: { request: ImportBankStatement; response: BankStatementReport };
  qr_code: { request: QrCode; response: string };
  payment_status: { request: ByNumber; response: TransactionView };
  save_receipt: { request: SaveReceipt; response: SavedReceipt };
  history: { request: HistoryFilter; response: List<TransactionView> };
  company_history: { request: CompanyFilter; response: List<TransactionView> };
  export_history: { request: HistoryFilter; response: string };
  policy_details: { request: ByNumber; response: PolicyDetails };
  set_collection: { request: CollectRequest; response: CollectionView };
  reinstate_policy: { request: ReinstatePolicy; response: PolicyView };
  saved_cards: { request: CardsOf; response: Array<SavedCardView> };
  dashboard: { request: DateRange; response: DashboardView };
  refunds: { request: RefundsFilter; response: Array<RefundView> };
  request_refund: { request: RequestRefund; response: RefundView };
  approve_refund: { request: RefundId; response: RefundView };
  reject_refund: { request: RejectRefund; response: RefundView };
  orphans: { request: OrphansFilter; response: Array<OrphanView> };
  resolve_orphan: { request: ResolveOrphan; response: null };
  recent_paybill: { request: null; response: Array<TransactionView> };
  verify_code: { request: VerifyCode; response: TransactionView };
  suspense: { request: OrphansFilter; response: Array<SuspenseView> };
  till_arrivals: { request: null; response: Array<SuspenseView> };
  match_till: { request: MatchTill; response: SuspenseDecided };
  decide_suspense: { request: DecideSuspense; response: SuspenseDecided };
  demo_pay_bill: { request: DemoPayBill; response: DemoPaid };
  messages: { request: MessagesFilter; response: Array<MessageView> };
  resend_message: { request: MessageId; response: MessageView };
  send_messages: { request: null; response: SendReport };
  policy_messages: { request: PolicyMessages; response: null };
  reconcile: { request: Day; response: ReconcileReport };
  import_statement: { request: ImportStatement; response: StatementImport };
  audit_log: { request: AuditFilter; response: Array<AuditView> };
  settings: { request: null; response: SettingsView };
  save_setting: { request: SaveSetting; response: null };
  save_secret: { request: SaveSecret; response: null };
  users: { request: null; response: Array<UserView> };
  add_user: { request: AddUser; response: UserView };
  check_input: { request: CheckInput; response: InputCheck };
  doctor: { request: null; response: DoctorReport };
  check_update: { request: null; response: UpdateView };
  install_update: { request: InstallUpdate; response: InstalledUpdate };
  restart_app: { request: null; response: null };
  ui_ready: { request: null; response: null };
};

export type ErrorCode = "invalid_input" | "not_found" | "conflict" | "likely_repeat" | "rate_limited" | "unauthenticated" | "forbidden" | "provider" | "internal";

export type AppError = { code: ErrorCode, message: string, };

export type TxStatus = "pending" | "awaiting_customer" | "succeeded" | "failed" | "cancelled" | "timed_out" | "needs_review" | "refunded" | "partially_refunded" | "awaiting_confirmation" | "bounced";

export type Method = "mpesa" | "card" | "paybill" | "cash" | "cheque" | "bank";

export type Role = "clerk" | "manager" | "admin";

export type Action = "read" | "take_payment" | "manage_policies" | "request_refund" | "approve_refund" | "sign_off_cash" | "set_collection" | "reinstate_policy" | "resolve_review" | "view_audit_log" | "view_reports" | "manage_users" | "manage_settings";

export type InstalmentStatus = "paid" | "pending" | "overdue";

export type RefundStatus = "requested" | "approved" | "rejected" | "processing" | "processed" | "failed";

export type List<T> = { items: Array<T>, total: number, more: boolean, next?: string, };

export type PolicyView = { number: string, holder: string, phone: string, email: string | null, premium: string, premium_minor: number, currency: string, frequency: string, 
/**
 * `active`, `lapsed` (payments reinstate it) or `cancelled` (no payment is taken).
 */
status: string, created_at: string, };

export type PolicyRow = { 
/**
 * Payments kept (succeeded, less refunds).
 */
paid_to_date: string, paid_to_date_minor: number, 
/**
 * The first instalment not fully paid (`null` once all are paid): when it is due and
 * what is left to pay of it.
 */
next_due_date: string | null, next_due: string | null, next_due_minor: number | null, 
/**
 * Due before today and not paid.
 */
overdue: string, overdue_minor: number, 
/**
 * Days since the oldest unpaid instalment fell due; 0 when nothing is overdue.
 */
days_overdue: number, 
/**
 * Where it stands with its premiums: `active`, `grace` (an instalment missed, within the
 * grace days), `lapsed` (after them, until the arrears are paid) or `cancelled`.
 */
standing: string, 
/**
 * The last day of grace, while in grace; the day it lapsed, once lapsed.
 */
grace_ends: string | null, lapsed_since: string | null, 
/**
 * Lapsed in the register with its arrears paid: a manager reinstates it
 * (`policy.reinstate` = `manager`).
 */
awaiting_reinstatement: boolean, number: string, holder: string, phone: string, email: string | null, premium: string, premium_minor: number, currency: string, frequency: string, 
/**
 * `active`, `lapsed` (payments reinstate it) or `cancelled` (no payment is taken).
 */
status: string, created_at: string, };

export type TransactionView = { id: number, number: string, reference: string, policy: string, holder: string, method: Method, status: TxStatus, 
/**
 * Still waiting on the provider or the customer (`pending`, `awaiting_customer`).
 */
open: boolean, 
/**
 * Money was received and kept, at least in part: a receipt prints as paid.
 */
paid: boolean, amount: string, amount_minor: number, currency: string, refunded: string, refunded_minor: number, phone: string | null, email: string | null, provider_ref: string | null, provider_receipt: string | null, failure_code: string | null, failure_reason: string | null, receipt_number: string | null, clerk: string | null, 
/**
 * The card checkout link, for card payments.
 */
authorization_url: string | null, card_brand: string | null, card_last4: string | null, 
/**
 * How a Paystack payment was made (`card`, `mobile_money`, `ussd`, `bank_transfer`, ...),
 * and what paid when it was not a card.
 */
channel: string | null, instrument: string | null, 
/**
 * `card` or `mpesa_prompt` when the collector started it on a due day (none: a person did).
 */
collected_by: string | null, 
/**
 * Who paid a paybill payment, as Safaricom names them.
 */
payer: string | null, 
/**
 * Cash: what the customer handed over and the change given back (decimal strings).
 */
tendered: string | null, tendered_minor: number | null, change: string | null, change_minor: number | null, created_at: string, updated_at: string, 
/**
 * Taken at another counter of the company: shown as the relay knows it (no phone or
 * e-mail), read-only here.
 */
elsewhere: boolean, };

export type SessionView = { username: string, role: Role, may: Array<Action>, };

export type AppInfo = { 
/**
 * Running against the built-in simulator: nothing reaches Safaricom or Paystack.
 */
demo: boolean, 
/**
 * No user exists yet: the first one to be created is the administrator.
 */
first_run: boolean, office: string, session: SessionView | null, };

export type SavedReceipt = { path: string, receipt_number: string, copy: boolean, };

export type Credentials = { username: string, password: string, };

export type PolicySearch = { search?: string, 
/**
 * Those with an instalment overdue first, longest overdue first.
 */
overdue_first?: boolean, };

export type PolicyForm = { number: string, holder: string, phone: string, email?: string, 
/**
 * Due per instalment, e.g. `1,500`.
 */
premium: string, frequency?: string, instalments?: number, 
/**
 * The first due date, `DD/MM/YYYY`.
 */
start?: string, status?: string, };

export type PolicyCorrected = { policy: PolicyView, changed: boolean, };

export type ImportPolicies = { csv: string, 
/**
 * Check every row and report, writing nothing.
 */
dry_run: boolean, };

export type ImportReport = { dry_run: boolean, 
/**
 * Rows below the header.
 */
rows: number, added: Array<string>, updated: Array<string>, unchanged: number, 
/**
 * Added and updated, once written.
 */
imported: number, refused: Array<Refused>, 
/**
 * Whether anything was written (never for a dry run or a file with a refused row).
 */
written: boolean, 
/**
 * Where the policies went: the company register, or this office until the next sync.
 */
register: string, };

export type Refused = { line: number, number: string | null, why: string, };

export type ByNumber = { number: string, };

export type QrCode = { text: string, };

export type ReceiptFormat = "a4" | "80mm";

export type SaveReceipt = { number: string, format: ReceiptFormat, 
/**
 * Send it to the printer as well as saving it.
 */
print: boolean, };

export type HistoryFilter = { status?: TxStatus, method?: Method, from?: string, to?: string, search?: string, page?: number, per_page?: number, 
/**
 * The `next` of the page before: the page after it.
 */
after?: string, };

export type CompanyFilter = { branch?: string, status?: TxStatus, policy?: string, from?: string, to?: string, page?: number, per_page?: number, };

export type CardsOf = { email: string, };

export type DateRange = { from?: string, to?: string, 
/**
 * The company view of one branch (office code) only.
 */
branch?: string, };

export type RefundsFilter = { status?: RefundStatus, };

export type RequestRefund = { number: string, amount: string, reason: string, };

export type RefundId = { id: number, };

export type RejectRefund = { id: number, reason: string, };

export type OrphansFilter = { all: boolean, };

export type ResolveOrphan = { seq: number, note: string, };

export type VerifyCode = { code: string, policy: string, };

export type DecideSuspense = { trans_id: string, policy?: string, note: string, };

export type SuspenseView = { 
/**
 * The M-Pesa code.
 */
trans_id: string, amount: string, amount_minor: number, currency: string, 
/**
 * What the customer typed as the account.
 */
account: string, 
/**
 * A till (Buy Goods) payment: no account at all, so a clerk matches it at the counter.
 */
till: boolean, payer: string, 
/**
 * Masked by Safaricom.
 */
msisdn: string, paid_at: string, 
/**
 * `open`, `allocated` or `refund`.
 */
status: string, policy: string | null, note: string | null, decided_by: string | null, };

export type SuspenseDecided = { item: SuspenseView, 
/**
 * The payment recorded for the policy (none for a refund).
 */
payment: TransactionView | null, };

export type DemoPayBill = { 
/**
 * The account number as the customer types it.
 */
account: string, 
/**
 * Whole shillings.
 */
amount: string, };

export type DemoPaid = { 
/**
 * The M-Pesa code in the customer's SMS.
 */
trans_id: string, 
/**
 * Validation refused it: nothing was taken.
 */
refused: boolean, };

export type MessagesFilter = { status?: string, policy?: string, };

export type MessageId = { id: number, };

export type PolicyMessages = { number: string, language?: string, opted_out?: boolean, };

export type MessageView = { id: number, 
/**
 * `receipt` or `reminder`.
 */
purpose: string, 
/**
 * `sms` or `email`.
 */
channel: string, policy: string, 
/**
 * `queued`, `sending`, `sent`, `delivered`, `failed` or `skipped`.
 */
status: string, 
/**
 * The number (masked) or address it went to.
 */
recipient: string | null, body: string | null, attempts: number, 
/**
 * Why it failed, was skipped, or is waiting.
 */
problem: string | null, created_at: string, sent_at: string | null, delivered_at: string | null, 
/**
 * The message this one sends again.
 */
resent_from: number | null, };

export type SendReport = { queued_reminders: number, sent: number, failed: number, skipped: number, 
/**
 * Not sent this time (tried again later, or held for the quiet hours).
 */
later: number, };

export type MessageCounts = { queued: number, sent: number, delivered: number, failed: number, skipped: number, };

export type Day = { date: string, };

export type AuditFilter = { entity?: string, entity_id?: string, limit: number, };

export type SaveSetting = { key: string, value: string, };

export type SaveSecret = { name: string, value: string, };

export type AddUser = { username: string, role: Role, password: string, };

export type MpesaRequest = { policy: string, phone: string, amount: string, 
/**
 * The clerk insists on a repeat of a payment made moments ago.
 */
again: boolean, };

export type CardRequest = { policy: string, email: string, amount: string, again: boolean, 
/**
 * Charge the customer's saved card (the most recent one, or the one ending in these
 * digits) instead of opening a checkout.
 */
saved_card?: string, };

export type CashRequest = { policy: string, amount: string, 
/**
 * What the customer handed over.
 */
tendered: string, 
/**
 * The clerk insists on a repeat of a payment made moments ago.
 */
again: boolean, };

export type Counted = { "total": string } | { "denominations": string };

export type CashDay = { day: string | null, };

export type CloseCash = { counted: Counted, day: string | null, };

export type SignOffCash = { clerk: string, day: string | null, note: string | null, };

export type DepositCash = { amount: string, bank_ref: string, };

export type DrawerView = { clerk: string, day: string, currency: string, 
/**
 * Cash payments taken into it, and how many.
 */
received: string, received_minor: number, payments: number, 
/**
 * Cash refunds handed back from it.
 */
paid_out: string, paid_out_minor: number, 
/**
 * What it should hold (for a closed drawer, what it should have held when it was closed).
 */
expected: string, expected_minor: number, closed: boolean, counted: string | null, counted_minor: number | null, 
/**
 * Counted less expected: `+20.00` over, `-50.00` short.
 */
variance: string | null, variance_minor: number | null, denominations: string | null, closed_at: string | null, closed_by: string | null, signed_off_by: string | null, signed_off_at: string | null, sign_off_note: string | null, };

export type DepositView = { id: number, amount: string, amount_minor: number, currency: string, bank_ref: string, made_by: string, made_at: string, };

export type CashPositionView = { currency: string, received: string, received_minor: number, paid_out: string, paid_out_minor: number, deposited: string, deposited_minor: number, 
/**
 * Cash in the office not yet taken to the bank.
 */
undeposited: string, undeposited_minor: number, };

export type CashReport = { day: string, drawers: Array<DrawerView>, 
/**
 * Closed drawers of any day still waiting for a manager's sign-off (managers only).
 */
awaiting_sign_off: Array<DrawerView>, position: CashPositionView, deposits: Array<DepositView>, };

export type ChequeRequest = { policy: string, amount: string, 
/**
 * The cheque's number, as printed on it.
 */
number: string, bank: string, 
/**
 * Whose account it is drawn on (an employer, the holder).
 */
drawer: string, 
/**
 * The date written on it (today when none); a post-dated cheque is banked on that day.
 */
dated: string | null, };

export type SlipRequest = { policy: string, amount: string, 
/**
 * The bank's reference on the slip.
 */
bank_ref: string, };

export type ChequesFilter = { state: string | null, };

export type MpesaRoutes = { mpesa: ProviderHealth, 
/**
 * Daraja's latest calls all failed: offer the ways round.
 */
daraja_down: boolean, 
/**
 * The paybill number customers pay to themselves (none without M-Pesa settings).
 */
paybill: string | null, 
/**
 * M-Pesa through Paystack is possible (Paystack set up, an office in Kenya shillings).
 */
paystack_mpesa: boolean, };

export type CollectRequest = { policy: string, 
/**
 * `card`, `mpesa_prompt`, `ratiba` or `none` (stop: reminders only).
 */
kind: string, 
/**
 * The saved card's last four digits (the latest saved card when none).
 */
card_last4: string | null, 
/**
 * What the holder agreed to, in their words or the form's.
 */
consent: string | null, 
/**
 * `in_person`, `sms_link` or `mpesa_pin`.
 */
consent_how: string | null, };

export type CollectionView = { policy: string, 
/**
 * `none`, `card`, `mpesa_prompt` or `ratiba`.
 */
kind: string, card_last4: string | null, phone: string | null, consent_by: string | null, consent_how: string | null, consent: string | null, consent_at: string | null, 
/**
 * Why it stopped, when Malipo or a person stopped it.
 */
stopped_reason: string | null, updated_by: string, updated_at: string, 
/**
 * The latest M-Pesa Ratiba standing order asked for the policy.
 */
standing_order: StandingOrderView | null, };

export type StandingOrderView = { 
/**
 * As the holder sees it in their M-Pesa menu.
 */
name: string, 
/**
 * `asking`, `awaiting_pin`, `active`, `failed` or `stopped`.
 */
status: string, amount: string, amount_minor: number, currency: string, frequency: string, start: string, end: string, result_code: string | null, result: string | null, 
/**
 * Safaricom's reference for the order.
 */
order_ref: string | null, asked_by: string, asked_at: string, 
/**
 * Instalments due from its start until today.
 */
runs_due: number, 
/**
 * Of those, the ones unpaid two days after their due date.
 */
runs_missed: number, 
/**
 * The due date of the first missed run.
 */
late_since: string | null, };

export type PaybillRoute = { shortcode: string, 
/**
 * The policy number: the account the customer types.
 */
account: string, amount: string, amount_minor: number, currency: string, 
/**
 * The instructions went to the policy's phone by SMS now (false: the holder opted out, or
 * the same was sent today already).
 */
sms_queued: boolean, 
/**
 * Watch for a paybill payment for this policy from this moment.
 */
since: string, };

export type PaystackMpesaRequest = { policy: string, phone: string, amount: string, 
/**
 * Paystack needs an e-mail; the policy's when none is given.
 */
email: string | null, };

export type ProviderHealth = { 
/**
 * `mpesa` or `paystack`.
 */
provider: string, 
/**
 * `up`, `degraded` (some calls failed), `down` (the latest calls all failed), or `unknown`
 * (not called in the last minutes).
 */
state: string, 
/**
 * Calls in the window, and how many failed by kind.
 */
calls: number, timeouts: number, unreachable: number, server_errors: number, busy: number, 
/**
 * When it last answered, and when it last failed.
 */
last_answered: string | null, last_failed: string | null, };

export type MatchTill = { 
/**
 * Its M-Pesa code.
 */
code: string, policy: string, };

export type BounceCheque = { number: string, reason: string, };

export type ReinstatePolicy = { number: string, note: string | null, };

export type SlipsFilter = { all: boolean, };

export type ConfirmSlip = { number: string, found: boolean, };

export type ImportBankStatement = { name: string, csv: string, columns: string | null, };

export type ChequeView = { payment: TransactionView, number: string, bank: string, drawer: string, dated: string, 
/**
 * `received`, `banked`, `cleared` or `bounced`.
 */
state: string, 
/**
 * Its date has not come: it cannot be banked yet.
 */
post_dated: boolean, banked_at: string | null, banked_by: string | null, settled_at: string | null, settled_by: string | null, bounce_reason: string | null, bounce_fee: string | null, };

export type SlipView = { payment: TransactionView, bank_ref: string, decided_by: string | null, decided_at: string | null, 
/**
 * `manual`, or the statement it was found in.
 */
decided_how: string | null, };

export type BankStatementReport = { rows: number, 
/**
 * Slips found with their amount: confirmed, now money.
 */
confirmed: Array<SlipView>, 
/**
 * A slip's reference with another amount: left for a manager, with both amounts.
 */
amount_differs: Array<string>, 
/**
 * Rows naming no slip (other credits to the account).
 */
not_slips: number, 
/**
 * Slips decided before.
 */
already: number, 
/**
 * Rows that could not be read, with their line and why.
 */
refused: Array<string>, };

export type CheckInput = { kind: InputKind, text: string, 
/**
 * The currency an amount is in (the policy's); the office's when not given.
 */
currency?: string, };

export type InputKind = "amount" | "mpesa_amount" | "phone" | "email" | "date";

export type InputCheck = { 
/**
 * What to fix, as one sentence; `null` when the field is fine.
 */
problem: string | null, 
/**
 * How the services will read it: `KES 1,500.00`, `254712345678`, `amina@example.co.ke`.
 */
reads_as: string | null, };

export type CheckStatus = "pass" | "warn" | "fail";

export type Check = { name: string, status: CheckStatus, message: string, };

export type DoctorReport = { checks: Array<Check>, };

export type InstallUpdate = { version: string, };

export type UpdateView = { 
/**
 * The version running now.
 */
current: string, 
/**
 * The update source checked (the manifest's address).
 */
source: string, 
/**
 * A newer version the source offers, or none.
 */
available: AvailableUpdate | null, };

export type AvailableUpdate = { version: string, 
/**
 * When it was published (RFC 3339), if the manifest says.
 */
published: string | null, 
/**
 * The release notes, as written by whoever published it.
 */
notes: string, };

export type InstalledUpdate = { version: string, 
/**
 * The new version runs after Malipo is restarted.
 */
restart_needed: boolean, };

export type PolicyDetails = { instalments: Array<InstalmentView>, transactions: List<TransactionView>, 
/**
 * Paid beyond what has fallen due (an overpayment): it pays the next instalments.
 */
credit: string, credit_minor: number, 
/**
 * The language of its customer messages: `en` or `sw`.
 */
language: string, 
/**
 * Its holder asked for no messages.
 */
opted_out: boolean, 
/**
 * Its customer messages, newest first.
 */
messages: Array<MessageView>, 
/**
 * Where it stands with its premiums (as in the policy list).
 */
standing: string, grace_ends: string | null, lapsed_since: string | null, 
/**
 * Lapsed in the register with its arrears paid: a manager reinstates it.
 */
awaiting_reinstatement: boolean, 
/**
 * How its premiums are collected without the counter, if that was ever set.
 */
collection: CollectionView | null, number: string, holder: string, phone: string, email: string | null, premium: string, premium_minor: number, currency: string, frequency: string, 
/**
 * `active`, `lapsed` (payments reinstate it) or `cancelled` (no payment is taken).
 */
status: string, created_at: string, };

export type InstalmentView = { policy: string, holder: string, phone: string, seq: number, due_date: string, status: InstalmentStatus, amount: string, amount_minor: number, paid: string, paid_minor: number, outstanding: string, outstanding_minor: number, currency: string, days_overdue: number, };

export type SavedCardView = { brand: string, last4: string, expiry: string, bank: string | null, };

export type TotalsView = { count: number, amount: string, amount_minor: number, };

export type KeyedTotals = { key: string, count: number, amount: string, amount_minor: number, };

export type KeyedFigures = { key: string, collected: TotalsView, attempted: TotalsView, };

export type DayView = { date: string, collected: TotalsView, attempted: TotalsView, };

export type SummaryView = { currency: string, from: string | null, to: string | null, 
/**
 * Money received: payments that succeeded (those refunded since included).
 */
collected: TotalsView, 
/**
 * Money given back since on those days' payments: how many payments, and how much.
 */
refunded: TotalsView, 
/**
 * Collected less refunded: what the office keeps (the count is of payments collected).
 */
net: TotalsView, 
/**
 * Every payment started, whatever became of it.
 */
attempted: TotalsView, 
/**
 * The same as `attempted` (kept for scripts written before it).
 */
all: TotalsView, 
/**
 * The same as `collected` (kept for scripts written before it).
 */
succeeded: TotalsView, pending: TotalsView, failed: TotalsView, needs_review: TotalsView, by_status: Array<KeyedTotals>, 
/**
 * Collected and attempted per method: the collected figures add up to `succeeded`.
 */
by_method: Array<KeyedFigures>, by_day: Array<DayView>, by_clerk: Array<KeyedFigures>, };

export type CompanyView = { currency: string, all: TotalsView, succeeded: TotalsView, pending: TotalsView, failed: TotalsView, needs_review: TotalsView, by_method: Array<KeyedFigures>, 
/**
 * By branch (office code).
 */
by_office: Array<KeyedFigures>, 
/**
 * By counter (`NBI-2`; an office without counters under its code alone).
 */
by_counter: Array<KeyedFigures>, 
/**
 * By clerk (username; `-` when not known).
 */
by_clerk: Array<KeyedFigures>, 
/**
 * When the relay last received anything from a provider for the company (RFC 3339),
 * whatever the dates asked: a company whose callbacks stopped arriving sees it here.
 */
last_received_at: string | null, };

export type DashboardView = { office: SummaryView, company: CompanyView | null, 
/**
 * Why the company-wide view is missing: no relay configured, or it cannot be reached.
 */
company_problem: string | null, 
/**
 * Instalments past their due date and not fully paid, most overdue first.
 */
overdue: Array<InstalmentView>, overdue_total: number, 
/**
 * Refunds requested and waiting for a manager.
 */
refunds_waiting: number, 
/**
 * Provider events that matched no payment, not yet resolved.
 */
orphans_open: number, 
/**
 * Customer messages by status (all time): queued, sent, delivered, failed, skipped.
 */
messages: MessageCounts, 
/**
 * How far M-Pesa's own ledger has been read, for an office taking paybill payments.
 */
ledger: LedgerStatus | null, 
/**
 * Paybill payments waiting in the company's suspense list for a manager (none when the
 * relay could not be asked).
 */
suspense: TotalsView | null, 
/**
 * The office's cash (in its currency) and the closed drawers awaiting a manager's sign-off.
 */
cash: CashPositionView, cash_ups_unsigned: number, 
/**
 * M-Pesa's and Paystack's health, from this office's own calls.
 */
providers: Array<ProviderHealth>, 
/**
 * Policies in grace whose grace ends within a week: they lapse unless paid.
 */
lapsing: Array<PolicyRow>, };

export type RefundView = { id: number, 
/**
 * The payment's number.
 */
transaction: string, 
/**
 * The policy the payment was for, and its holder: who the money goes back to.
 */
policy: string, holder: string, amount: string, amount_minor: number, currency: string, reason: string, status: RefundStatus, 
/**
 * Requested and waiting for a manager to approve or reject it.
 */
awaiting_decision: boolean, 
/**
 * Approved but not (known to be) sent to the provider: approving again sends it.
 */
unsent: boolean, 
/**
 * Sent or about to be: the provider's answer is still to come.
 */
in_flight: boolean, requested_by: string, decided_by: string | null, 
/**
 * A rejection's reason, or how an approval by its requester was allowed.
 */
decision_note: string | null, 
/**
 * The Paystack refund id, or the M-Pesa reversal's ConversationID.
 */
provider_ref: string | null, failure_reason: string | null, created_at: string, updated_at: string, };

export type OrphanView = { 
/**
 * The relay's sequence number: how to name it when resolving.
 */
seq: number, 
/**
 * `orphan` or `suspect`.
 */
outcome: string, 
/**
 * A claim the provider did not confirm (`suspect`), rather than one matching nothing.
 */
unconfirmed: boolean, provider: string, kind: string, dedup_key: string, received_at: string, 
/**
 * Why it is here: what it matched, or what the provider said instead.
 */
note: string, 
/**
 * The provider's raw body.
 */
body: string, resolved_by: string | null, resolution: string | null, };

export type Difference = { 
/**
 * `card`, `mpesa`, `paybill` or `cash`.
 */
method: Method, 
/**
 * `paid_not_recorded`, `amount_differs`, `unknown_to_office`, `recorded_not_confirmed`,
 * `receipt_unmatched`, `confirmed_by_query_only`, `in_suspense`, `awaiting_confirmation`,
 * against M-Pesa's ledger `on_ledger_not_recorded` and `recorded_not_on_ledger`, or for
 * a clerk's drawer (the clerk in `reference`, counted and expected as the amounts)
 * `cash_not_closed`, `cash_variance` and `cash_not_signed_off`, or `collection_stopped`
 * (the policy in `reference`: Paystack said its saved card is gone).
 */
kind: string, number: string | null, 
/**
 * Our reference (cards) or the CheckoutRequestID (M-Pesa).
 */
reference: string | null, provider_amount: string | null, local_amount: string | null, local_status: TxStatus | null, 
/**
 * What it means and what to do.
 */
explanation: string, };

export type Side = { 
/**
 * Payments the provider confirms for the day.
 */
confirmed: number, 
/**
 * Of those, the ones this office recorded the same way.
 */
matched: number, };

export type LedgerSide = { 
/**
 * What covers the day: `statement` (an imported statement's period), `pull` (complete
 * pulls of M-Pesa's list), or only `callbacks` (nothing of M-Pesa's own: the day is not
 * yet covered).
 */
covered_by: string, 
/**
 * How far into the day the ledger reaches (RFC 3339): the day's end for a statement,
 * the last complete pull for Pull; payments after it are not compared.
 */
covered_until: string | null, 
/**
 * Paid in according to M-Pesa's ledger: how many, and the sum in minor units.
 */
ledger_count: number, ledger_minor: number, 
/**
 * The company's M-Pesa payments recorded that day (every counter's, as this one knows
 * them): how many, and the sum in minor units.
 */
recorded_count: number, recorded_minor: number, };

export type LedgerStatus = { 
/**
 * When Pull Transactions was registered at this counter (RFC 3339), if it was.
 */
pull_registered_at: string | null, 
/**
 * Minutes between automatic pulls (0: off).
 */
pull_minutes: number, 
/**
 * Where the last complete pull ended.
 */
pulled_to: string | null, 
/**
 * Where the latest imported statement's period ends.
 */
statement_to: string | null, 
/**
 * The later of the two: M-Pesa payments up to here have been compared with M-Pesa's list;
 * days after it are not yet covered.
 */
covered_to: string | null, 
/**
 * Nothing has covered M-Pesa's list for more than 36 hours (or ever): a payment whose
 * confirmation never came would go unnoticed.
 */
stale: boolean, };

export type ImportStatement = { name: string, content_base64: string, 
/**
 * Say what the import would do; ask and record nothing.
 */
dry_run: boolean, };

export type StatementImport = { rows: number, matched: number, recovered: number, not_premium: number, refused: number, 
/**
 * The period as the statement's header writes it.
 */
period: string | null, shortcode: string | null, dry_run: boolean, 
/**
 * This file was imported before: nothing changed.
 */
imported_before: boolean, recovered_rows: Array<StatementLine>, refused_rows: Array<StatementLine>, };

export type StatementLine = { line: number, receipt: string, why: string, };

export type ReconcileReport = { date: string, 
/**
 * This office's payments created that day, and how many of them succeeded.
 */
local_payments: number, local_succeeded: number, card: Side, mpesa: Side, 
/**
 * Paybill confirmations Safaricom sent for this branch (or no branch) that day.
 */
paybill: Side, 
/**
 * Whether Paystack could be asked (no Paystack settings: the card side is not checked).
 */
card_checked: boolean, 
/**
 * M-Pesa's own ledger for the day, where a statement or a pull covers it.
 */
ledger: LedgerSide, 
/**
 * Each clerk's drawer that day: cash received and paid out, the count and its variance.
 */
cash: Array<DrawerView>, 
/**
 * The office's cash (all days): received, refunded, deposited, and not yet deposited.
 */
cash_position: CashPositionView, differences: Array<Difference>, };

export type AuditView = { id: number, at: string, actor: string, action: string, entity: string, entity_id: string, 
/**
 * The entry as a manager reads it: who did what, to what, and why.
 */
sentence: string, 
/**
 * The entity before the change, as JSON.
 */
before: unknown, after: unknown, };

export type SettingView = { key: string, 
/**
 * What the office database holds ("" when unset).
 */
value: string, 
/**
 * The environment variable that overrides it, or "" when none does.
 */
env: string, 
/**
 * The environment variable is set: the stored value is not the one in force.
 */
overridden: boolean, 
/**
 * What the screen calls it, and one line on what it does.
 */
label: string, help: string, 
/**
 * What applies when it is unset ("" when nothing does).
 */
default: string, 
/**
 * A message template: written in a multi-line box.
 */
multiline: boolean, };

export type SecretView = { name: string, env: string, 
/**
 * `environment`, `keyring` or `missing`.
 */
source: string, 
/**
 * Why the keyring could not be read, when it could not.
 */
problem: string | null, label: string, help: string, };

export type SettingsView = { 
/**
 * The office's details printed on receipts.
 */
office: Array<SettingView>, 
/**
 * Provider, relay, printer and limits.
 */
providers: Array<SettingView>, secrets: Array<SecretView>, 
/**
 * Where secrets are kept (`Secret Service`, `macOS Keychain`, ...), or why nowhere.
 */
keyring: string, 
/**
 * Whether secrets can be saved from the screen.
 */
keyring_available: boolean, 
/**
 * Provider settings are read when Malipo starts: changes apply after a restart.
 */
restart_needed: boolean, };

export type UserView = { username: string, role: Role, active: boolean, created_at: string, };

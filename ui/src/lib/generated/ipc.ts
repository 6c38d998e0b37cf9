// Generated from the Rust declarations in crates/app (src/ipc.rs and the views);
// do not edit. Regenerate: MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings

/** Every command the desktop shell registers. */
export type Command = "app_info" | "create_admin" | "sign_in" | "sign_out" | "list_policies" | "pay_mpesa" | "pay_card" | "qr_code" | "payment_status" | "save_receipt" | "history" | "export_history" | "policy_details" | "saved_cards" | "dashboard" | "refunds" | "request_refund" | "approve_refund" | "reject_refund" | "orphans" | "resolve_orphan" | "reconcile" | "audit_log" | "settings" | "save_setting" | "save_secret" | "users" | "add_user" | "ui_ready";

export type ErrorCode = "invalid_input" | "not_found" | "conflict" | "unauthenticated" | "forbidden" | "provider" | "internal";

export type AppError = { code: ErrorCode, message: string, };

export type List<T> = { items: Array<T>, total: number, };

export type PolicyView = { number: string, holder: string, phone: string, email: string | null, premium: string, premium_minor: number, currency: string, frequency: string, created_at: string, };

export type TransactionView = { id: number, number: string, reference: string, policy: string, holder: string, method: string, status: string, amount: string, amount_minor: number, currency: string, refunded: string, refunded_minor: number, phone: string | null, email: string | null, provider_ref: string | null, provider_receipt: string | null, failure_code: string | null, failure_reason: string | null, receipt_number: string | null, clerk: string | null, 
/**
 * The card checkout link, for card payments.
 */
authorization_url: string | null, card_brand: string | null, card_last4: string | null, created_at: string, updated_at: string, };

export type SessionView = { username: string, 
/**
 * `clerk`, `manager` or `admin`.
 */
role: string, };

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

export type HistoryFilter = { status?: string, method?: string, from?: string, to?: string, search?: string, page?: number, per_page?: number, };

export type PolicyDetails = { instalments: Array<InstalmentView>, transactions: List<TransactionView>, number: string, holder: string, phone: string, email: string | null, premium: string, premium_minor: number, currency: string, frequency: string, created_at: string, };

export type InstalmentView = { policy: string, holder: string, phone: string, seq: number, due_date: string, status: string, amount: string, amount_minor: number, paid: string, paid_minor: number, outstanding: string, outstanding_minor: number, currency: string, days_overdue: number, };

export type SavedCardView = { brand: string, last4: string, expiry: string, bank: string | null, };

export type TotalsView = { count: number, amount: string, amount_minor: number, };

export type KeyedTotals = { key: string, count: number, amount: string, amount_minor: number, };

export type DayView = { date: string, all: TotalsView, succeeded: TotalsView, };

export type SummaryView = { currency: string, from: string | null, to: string | null, all: TotalsView, succeeded: TotalsView, pending: TotalsView, failed: TotalsView, needs_review: TotalsView, by_status: Array<KeyedTotals>, by_method: Array<KeyedTotals>, by_day: Array<DayView>, by_clerk: Array<KeyedTotals>, };

export type CompanyView = { currency: string, all: TotalsView, succeeded: TotalsView, pending: TotalsView, failed: TotalsView, needs_review: TotalsView, by_method: Array<KeyedTotals>, by_office: Array<KeyedTotals>, };

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
orphans_open: number, };

export type RefundView = { id: number, 
/**
 * The payment's number.
 */
transaction: string, amount: string, amount_minor: number, currency: string, reason: string, 
/**
 * requested, approved, rejected, processing, processed or failed.
 */
status: string, requested_by: string, decided_by: string | null, 
/**
 * The Paystack refund id, or the M-Pesa reversal's ConversationID.
 */
provider_ref: string | null, failure_reason: string | null, created_at: string, updated_at: string, };

export type OrphanView = { 
/**
 * The relay's sequence number: how to name it when resolving.
 */
seq: number, provider: string, kind: string, dedup_key: string, received_at: string, 
/**
 * Why it matched nothing.
 */
note: string, 
/**
 * The provider's raw body.
 */
body: string, resolved_by: string | null, resolution: string | null, };

export type Difference = { 
/**
 * `card` or `mpesa`.
 */
method: string, 
/**
 * `paid_not_recorded`, `amount_differs`, `unknown_to_office`, `recorded_not_confirmed`,
 * `receipt_unmatched` or `confirmed_by_query_only`.
 */
kind: string, number: string | null, 
/**
 * Our reference (cards) or the CheckoutRequestID (M-Pesa).
 */
reference: string | null, provider_amount: string | null, local_amount: string | null, local_status: string | null, 
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

export type ReconcileReport = { date: string, 
/**
 * This office's payments created that day, and how many of them succeeded.
 */
local_payments: number, local_succeeded: number, card: Side, mpesa: Side, 
/**
 * Whether Paystack could be asked (no Paystack settings: the card side is not checked).
 */
card_checked: boolean, differences: Array<Difference>, };

export type AuditView = { id: number, at: string, actor: string, action: string, entity: string, entity_id: string, 
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
overridden: boolean, };

export type SecretView = { name: string, env: string, 
/**
 * `environment`, `keyring` or `missing`.
 */
source: string, 
/**
 * Why the keyring could not be read, when it could not.
 */
problem: string | null, };

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

export type UserView = { username: string, role: string, active: boolean, created_at: string, };

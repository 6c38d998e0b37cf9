// Generated from the Rust declarations in crates/app (src/ipc.rs and the views);
// do not edit. Regenerate: MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings

/** Every command the desktop shell registers. */
export type Command = "app_info" | "create_admin" | "sign_in" | "sign_out" | "list_policies" | "pay_mpesa" | "pay_card" | "qr_code" | "payment_status" | "save_receipt" | "history" | "export_history";

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

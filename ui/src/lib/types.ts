// The shapes the Rust services send (malipo_app::views). Money travels as an exact decimal
// string beside integer minor units; never as a float.

export interface List<T> {
  items: T[];
  total: number;
}

export interface PolicyView {
  number: string;
  holder: string;
  phone: string;
  email: string | null;
  premium: string;
  premium_minor: number;
  currency: string;
  frequency: string;
  created_at: string;
}

export type ErrorCode =
  | "invalid_input"
  | "not_found"
  | "conflict"
  | "unauthenticated"
  | "forbidden"
  | "provider"
  | "internal";

export interface AppError {
  code: ErrorCode;
  message: string;
}

export interface SessionView {
  username: string;
  role: "clerk" | "manager" | "admin";
}

export interface AppInfo {
  demo: boolean;
  first_run: boolean;
  office: string;
  session: SessionView | null;
}

export type TxStatus =
  | "pending"
  | "awaiting_customer"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "timed_out"
  | "needs_review"
  | "refunded"
  | "partially_refunded";

/** A payment (malipo_app::views::TransactionView). */
export interface TransactionView {
  id: number;
  number: string;
  reference: string;
  policy: string;
  holder: string;
  method: "mpesa" | "card";
  status: TxStatus;
  amount: string;
  amount_minor: number;
  currency: string;
  refunded: string;
  refunded_minor: number;
  phone: string | null;
  email: string | null;
  provider_ref: string | null;
  provider_receipt: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  receipt_number: string | null;
  clerk: string | null;
  authorization_url: string | null;
  card_brand: string | null;
  card_last4: string | null;
  created_at: string;
  updated_at: string;
}

export interface SavedReceipt {
  path: string;
  receipt_number: string;
  copy: boolean;
}

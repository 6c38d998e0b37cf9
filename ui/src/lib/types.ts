// The shapes the Rust services send. They are generated from the Rust declarations
// (crates/app/src/ipc.rs and the views) into ./generated/ipc.ts; the test command fails when
// that file drifts from them. Money travels as an exact decimal string beside integer minor
// units; never as a float.

export type {
  AppError,
  AppInfo,
  Command,
  ErrorCode,
  HistoryFilter,
  List,
  PolicyView,
  SavedReceipt,
  SessionView,
  TransactionView,
} from "./generated/ipc";

/** The statuses a payment's `status` takes. */
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

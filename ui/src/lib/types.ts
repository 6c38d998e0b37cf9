// The shapes the Rust services send. They are generated from the Rust declarations
// (crates/app/src/ipc.rs and the views) into ./generated/ipc.ts; the test command fails when
// that file drifts from them. Money travels as an exact decimal string beside integer minor
// units; never as a float.

export type {
  AppError,
  AppInfo,
  AuditView,
  Command,
  CompanyView,
  DashboardView,
  DayView,
  Difference,
  ErrorCode,
  HistoryFilter,
  InstalmentView,
  KeyedTotals,
  List,
  OrphanView,
  PolicyDetails,
  PolicyView,
  ReconcileReport,
  RefundView,
  SavedCardView,
  SavedReceipt,
  SecretView,
  SessionView,
  SettingsView,
  SettingView,
  SummaryView,
  TotalsView,
  TransactionView,
  UserView,
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

// The one module that talks to Tauri. Everything else calls these typed functions; each
// command's request and response types are generated from the Rust declarations.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AppError,
  AppInfo,
  AuditView,
  BankStatementReport,
  CashReport,
  CollectRequest,
  CollectionView,
  ChequeRequest,
  ChequeView,
  Counted,
  DepositView,
  DrawerView,
  MpesaRoutes,
  PaybillRoute,
  SlipView,
  CheckInput,
  CompanyFilter,
  Command,
  Commands,
  DashboardView,
  DemoPaid,
  DoctorReport,
  HistoryFilter,
  ImportReport,
  InputCheck,
  InstalledUpdate,
  List,
  MessageView,
  SendReport,
  OrphanView,
  PolicyCorrected,
  PolicyDetails,
  PolicyForm,
  PolicyRow,
  PolicyView,
  ReconcileReport,
  RefundStatus,
  RefundView,
  Role,
  SavedCardView,
  SavedReceipt,
  SessionView,
  SettingsView,
  StatementImport,
  SuspenseDecided,
  SuspenseView,
  TransactionView,
  UpdateView,
  UserView,
} from "./types";

function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** Whatever a call threw, as an error a screen can show: the services' `{code, message}`, or
 * anything else (a failure in the page itself) as an internal error with its text. Every screen
 * catches with this, never a bare cast. */
export function appError(e: unknown): AppError {
  return isAppError(e) ? e : { code: "internal", message: e instanceof Error ? e.message : String(e) };
}

/** Invokes `command` with its request (none when the command takes none). */
async function call<C extends Command>(
  command: C,
  request: Commands[C]["request"],
): Promise<Commands[C]["response"]> {
  try {
    return await invoke<Commands[C]["response"]>(command, request === null ? {} : { request });
  } catch (e) {
    throw appError(e);
  }
}

export function listPolicies(search: string | null, overdueFirst = false): Promise<List<PolicyRow>> {
  return call("list_policies", { search: search ?? undefined, overdue_first: overdueFirst });
}

/** Adds one policy with its instalment schedule. */
export function addPolicy(form: PolicyForm): Promise<PolicyView> {
  return call("add_policy", form);
}

/** Corrects a policy as a register row would; says whether anything changed. */
export function correctPolicy(form: PolicyForm): Promise<PolicyCorrected> {
  return call("correct_policy", form);
}

/** Imports the policy register from the core system's CSV, or with `dryRun` says what it would do. */
export async function importPolicies(file: File, dryRun: boolean): Promise<ImportReport> {
  return call("import_policies", { csv: await file.text(), dry_run: dryRun });
}

export function appInfo(): Promise<AppInfo> {
  return call("app_info", null);
}

export function createAdmin(username: string, password: string): Promise<SessionView> {
  return call("create_admin", { username, password });
}

export function signIn(username: string, password: string): Promise<SessionView> {
  return call("sign_in", { username, password });
}

export function signOut(): Promise<null> {
  return call("sign_out", null);
}

export function payMpesa(
  policy: string,
  phone: string,
  amount: string,
  again: boolean,
): Promise<TransactionView> {
  return call("pay_mpesa", { policy, phone, amount, again });
}

export function paymentStatus(number: string): Promise<TransactionView> {
  return call("payment_status", { number });
}

export function saveReceipt(
  number: string,
  format: "a4" | "80mm",
  print: boolean,
): Promise<SavedReceipt> {
  return call("save_receipt", { number, format, print });
}

export function history(filter: HistoryFilter): Promise<List<TransactionView>> {
  return call("history", filter);
}

/** Every counter's payments as this one knows them (a clerk sees their own branch). */
export function companyHistory(filter: CompanyFilter): Promise<List<TransactionView>> {
  return call("company_history", filter);
}

export function exportHistory(filter: HistoryFilter): Promise<string> {
  return call("export_history", filter);
}

/** A card checkout, or with `savedCard` (its last four digits) a charge of a saved card. */
export function payCard(
  policy: string,
  email: string,
  amount: string,
  again: boolean,
  savedCard: string | null = null,
): Promise<TransactionView> {
  return call("pay_card", { policy, email, amount, again, saved_card: savedCard ?? undefined });
}

/** Cash handed over at the counter: paid at once, with the change worked out. */
export function payCash(policy: string, amount: string, tendered: string, again: boolean): Promise<TransactionView> {
  return call("pay_cash", { policy, amount, tendered, again });
}

/** A day's cash (today when `day` is empty): the clerk's drawer, or every drawer for a manager. */
export function cashReport(day = ""): Promise<CashReport> {
  return call("cash_report", { day: day || null });
}

/** Closes the signed-in clerk's drawer with a total counted, or a count by denomination. */
export function closeCash(counted: Counted, day = ""): Promise<DrawerView> {
  return call("close_cash", { counted, day: day || null });
}

/** A manager signs off a clerk's closed drawer (a note is needed when it is short or over). */
export function signOffCash(clerk: string, day: string, note: string): Promise<DrawerView> {
  return call("sign_off_cash", { clerk, day: day || null, note: note.trim() || null });
}

/** Cash taken to the bank, with the reference on the deposit slip. */
export function depositCash(amount: string, bankRef: string): Promise<DepositView> {
  return call("deposit_cash", { amount, bank_ref: bankRef });
}

/** Sets how a policy's premiums are collected (managers, with consent), or stops it ("none"). */
export function setCollection(request: CollectRequest): Promise<CollectionView> {
  return call("set_collection", request);
}

/** Makes a lapsed policy active again once its arrears are paid (managers). */
export function reinstatePolicy(number: string, note: string | null): Promise<PolicyView> {
  return call("reinstate_policy", { number, note });
}

/** Whether M-Pesa is answering, and the ways round it this office has. */
export function mpesaRoutes(): Promise<MpesaRoutes> {
  return call("mpesa_routes", null);
}

/** The paybill route: the customer pays from their own phone; the instructions go by SMS too. */
export function paybillRoute(policy: string, phone: string, amount: string): Promise<PaybillRoute> {
  return call("paybill_route", { policy, phone, amount, again: false });
}

/** M-Pesa through Paystack, while M-Pesa's own prompts fail. */
export function payMpesaPaystack(policy: string, phone: string, amount: string, email: string | null): Promise<TransactionView> {
  return call("pay_mpesa_paystack", { policy, phone, amount, email });
}

/** Till (Buy Goods) payments waiting to be matched to a policy at the counter. */
export function tillArrivals(): Promise<SuspenseView[]> {
  return call("till_arrivals", null);
}

/** Matches a till payment to the policy the customer names (proven with Safaricom first). */
export function matchTill(code: string, policy: string): Promise<SuspenseDecided> {
  return call("match_till", { code, policy });
}

/** A cheque received at the counter: pays provisionally until the bank clears it. */
export function payCheque(request: ChequeRequest): Promise<ChequeView> {
  return call("pay_cheque", request);
}

/** A deposit slip the customer brings: not money until a manager confirms it. */
export function payBank(policy: string, amount: string, bankRef: string): Promise<SlipView> {
  return call("pay_bank", { policy, amount, bank_ref: bankRef });
}

/** Cheques in one state (`received`, `banked`, `cleared`, `bounced`), or all with "". */
export function cheques(state: string): Promise<ChequeView[]> {
  return call("cheques", { state: state || null });
}

export function bankCheque(number: string): Promise<ChequeView> {
  return call("bank_cheque", { number });
}

export function clearCheque(number: string): Promise<ChequeView> {
  return call("clear_cheque", { number });
}

export function bounceCheque(number: string, reason: string): Promise<ChequeView> {
  return call("bounce_cheque", { number, reason });
}

/** Bank slips waiting for a manager, or every slip with `all`. */
export function bankSlips(all: boolean): Promise<SlipView[]> {
  return call("bank_slips", { all });
}

export function confirmSlip(number: string, found: boolean): Promise<SlipView> {
  return call("confirm_slip", { number, found });
}

/** The bank's statement: confirms the slips it shows credited with their amount. */
export async function importBankStatement(file: File, columns: string): Promise<BankStatementReport> {
  return call("import_bank_statement", { name: file.name, csv: await file.text(), columns: columns.trim() || null });
}

export function savedCards(email: string): Promise<SavedCardView[]> {
  return call("saved_cards", { email });
}

export function policyDetails(number: string): Promise<PolicyDetails> {
  return call("policy_details", { number });
}

/** The manager's dashboard for the days `from..=to` (YYYY-MM-DD; empty for open). */
export function dashboard(from: string, to: string, branch = ""): Promise<DashboardView> {
  return call("dashboard", { from: from || undefined, to: to || undefined, branch: branch.trim() || undefined });
}

export function refunds(status: RefundStatus | null): Promise<RefundView[]> {
  return call("refunds", { status: status ?? undefined });
}

export function requestRefund(number: string, amount: string, reason: string): Promise<RefundView> {
  return call("request_refund", { number, amount, reason });
}

export function approveRefund(id: number): Promise<RefundView> {
  return call("approve_refund", { id });
}

export function rejectRefund(id: number, reason: string): Promise<RefundView> {
  return call("reject_refund", { id, reason });
}

export function orphans(all: boolean): Promise<OrphanView[]> {
  return call("orphans", { all });
}

export function resolveOrphan(seq: number, note: string): Promise<null> {
  return call("resolve_orphan", { seq, note });
}

/** Paybill payments recorded in the last two hours, newest first. */
export function recentPaybill(): Promise<TransactionView[]> {
  return call("recent_paybill", null);
}

/** Proves the M-Pesa code from a customer's SMS with Safaricom and records it for `policy`. */
export function verifyCode(code: string, policy: string): Promise<TransactionView> {
  return call("verify_code", { code, policy });
}

export function suspense(all: boolean): Promise<SuspenseView[]> {
  return call("suspense", { all });
}

/** Allocates a suspense payment to `policy`, or (with none) marks it for refund. */
export function decideSuspense(transId: string, policy: string | null, note: string): Promise<SuspenseDecided> {
  return call("decide_suspense", { trans_id: transId, policy: policy ?? undefined, note });
}

/** Demo mode only: the simulator's customer pays the office's paybill. */
export function demoPayBill(account: string, amount: string): Promise<DemoPaid> {
  return call("demo_pay_bill", { account, amount });
}

/** Customer messages, newest first: of one status, or one policy's. */
export function messages(status: string | null, policy: string | null): Promise<MessageView[]> {
  return call("messages", { status: status || undefined, policy: policy || undefined });
}

export function resendMessage(id: number): Promise<MessageView> {
  return call("resend_message", { id });
}

/** Sends the messages due now rather than at the next pass. */
export function sendMessages(): Promise<SendReport> {
  return call("send_messages", null);
}

/** A policy's message language (en, sw) and whether its holder opted out. */
export function policyMessages(number: string, language: string | null, optedOut: boolean | null): Promise<null> {
  return call("policy_messages", { number, language: language ?? undefined, opted_out: optedOut ?? undefined });
}

export function reconcile(date: string): Promise<ReconcileReport> {
  return call("reconcile", { date });
}

/** Imports an M-Pesa statement file (XLSX, XLS or CSV) the manager picked, or with `dryRun`
 * says what the import would do. The file travels as base64. */
export async function importStatement(file: File, dryRun: boolean): Promise<StatementImport> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return call("import_statement", { name: file.name, content_base64: btoa(binary), dry_run: dryRun });
}

export function auditLog(entity: string | null, entityId: string | null, limit: number): Promise<AuditView[]> {
  return call("audit_log", { entity: entity ?? undefined, entity_id: entityId ?? undefined, limit });
}

export function settings(): Promise<SettingsView> {
  return call("settings", null);
}

/** Every set-up check (M-Pesa, Paystack, the relay, this computer); reads only. */
export function doctor(): Promise<DoctorReport> {
  return call("doctor", null);
}

/** Asks the company's update source for a newer version (administrators). */
export function checkUpdate(): Promise<UpdateView> {
  return call("check_update", null);
}

/** Installs the version shown, once its signature verifies against the release key. */
export function installUpdate(version: string): Promise<InstalledUpdate> {
  return call("install_update", { version });
}

/** Restarts Malipo, so an installed update runs. */
export function restartApp(): Promise<null> {
  return call("restart_app", null);
}

export function saveSetting(key: string, value: string): Promise<null> {
  return call("save_setting", { key, value });
}

/** Keeps a secret in the OS keyring; an empty value removes it. */
export function saveSecret(name: string, value: string): Promise<null> {
  return call("save_secret", { name, value });
}

export function users(): Promise<UserView[]> {
  return call("users", null);
}

export function addUser(username: string, role: Role, password: string): Promise<UserView> {
  return call("add_user", { username, role, password });
}

/** The QR code of `text` as an SVG document. */
export function qrCode(text: string): Promise<string> {
  return call("qr_code", { text });
}

/** What is wrong with a field as typed so far, by the rules the services apply. */
export function checkInput(request: CheckInput): Promise<InputCheck> {
  return call("check_input", request);
}

/** Tells the shell the first screen is drawn and takes input (logged as the startup time). */
export function uiReady(): Promise<null> {
  return call("ui_ready", null);
}

/** Listens to one of the app's events until the returned function is called (an `$effect`'s
 * clean-up): the services tell the window what changed, so no screen polls them. */
function subscribe<T>(event: string, cb: (payload: T) => void): () => void {
  let stop: UnlistenFn | null = null;
  let gone = false;
  void listen<T>(event, (e) => cb(e.payload)).then(
    (u) => {
      if (gone) u();
      else stop = u;
    },
    () => {},
  );
  return () => {
    gone = true;
    stop?.();
  };
}

/** A sync round or a messages pass changed something: `payments` (payments, refunds, paybill
 * arrivals, suspense) or `messages`. */
export function onChanged(cb: (what: "payments" | "messages") => void): () => void {
  return subscribe<"payments" | "messages">("malipo:changed", cb);
}

/** A payment this window started moved (until it ends). */
export function onPayment(cb: (payment: TransactionView) => void): () => void {
  return subscribe<TransactionView>("malipo:payment", cb);
}

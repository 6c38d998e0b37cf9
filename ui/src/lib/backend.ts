// The one module that talks to Tauri. Everything else calls these typed functions.
import { invoke } from "@tauri-apps/api/core";
import type {
  AppError,
  AppInfo,
  Command,
  HistoryFilter,
  List,
  PolicyView,
  SavedReceipt,
  SessionView,
  TransactionView,
} from "./types";

function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

async function call<T>(command: Command, args: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    if (isAppError(e)) throw e;
    const err: AppError = { code: "internal", message: String(e) };
    throw err;
  }
}

export function listPolicies(search: string | null): Promise<List<PolicyView>> {
  return call("list_policies", { search });
}

export function appInfo(): Promise<AppInfo> {
  return call("app_info", {});
}

export function createAdmin(username: string, password: string): Promise<SessionView> {
  return call("create_admin", { username, password });
}

export function signIn(username: string, password: string): Promise<SessionView> {
  return call("sign_in", { username, password });
}

export function signOut(): Promise<void> {
  return call("sign_out", {});
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
  return call("history", { filter });
}

export function exportHistory(filter: HistoryFilter): Promise<string> {
  return call("export_history", { filter });
}

export function payCard(
  policy: string,
  email: string,
  amount: string,
  again: boolean,
): Promise<TransactionView> {
  return call("pay_card", { policy, email, amount, again });
}

/** The QR code of `text` as an SVG document. */
export function qrCode(text: string): Promise<string> {
  return call("qr_code", { text });
}

// The one module that talks to Tauri. Everything else calls these typed functions.
import { invoke } from "@tauri-apps/api/core";
import type { AppError, List, PolicyView } from "./types";

function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

async function call<T>(command: string, args: Record<string, unknown>): Promise<T> {
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

// Display helpers. Amounts are formatted from integer minor units with integer arithmetic.
import type { Method } from "./types";

/** `150050, "KES"` → `KES 1,500.50` */
export function formatMoney(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`not an exact amount: ${minor}`);
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  const whole = Math.trunc(abs / 100).toString();
  const cents = (abs % 100).toString().padStart(2, "0");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${currency} ${grouped}.${cents}`;
}

/** An amount as a clerk types it (`2,000`, `1500.5`) in minor units, or null when it is not
 * one. Integers only: the text is read digit by digit, never through a float. */
export function minorUnits(text: string): number | null {
  const m = /^\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const minor = Number.parseInt(m[1].replaceAll(",", ""), 10) * 100 + (m[2] ? Number.parseInt(m[2].padEnd(2, "0"), 10) : 0);
  return Number.isSafeInteger(minor) ? minor : null;
}

/** The change for cash `given` against `due`, in minor units (negative when short), or null
 * while either is unreadable. The services work it out again when the cash is recorded. */
export function changeDue(due: string, given: string): number | null {
  const [d, g] = [minorUnits(due), minorUnits(given)];
  return d === null || g === null ? null : g - d;
}

/** `254712345678` → `0712 345 678` */
export function localPhone(msisdn: string): string {
  if (!/^254\d{9}$/.test(msisdn)) return msisdn;
  const n = msisdn.slice(3);
  return `0${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
}

/**
 * How long a chart's bar is for `part` of `whole`, in whole per cent (0 to 100): at least 1
 * for anything above zero, so a small figure still shows. Amounts stay integers.
 */
export function barPercent(part: number, whole: number): number {
  if (whole <= 0 || part <= 0) return 0;
  return Math.min(100, Math.max(1, Math.trunc((part * 100) / whole)));
}

/** The date in Nairobi `daysAgo` days before `now`, as YYYY-MM-DD. */
export function nairobiDate(daysAgo = 0, now: Date = new Date()): string {
  const at = new Date(now.getTime() - daysAgo * 86_400_000);
  // Built from the parts: locales disagree on the order (WebKit's en-CA is month first).
  const parts = new Intl.DateTimeFormat("en-GB", { timeZone: "Africa/Nairobi", year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/** `1 payment`, `3 payments`: a count with its noun (and the noun's plural when not the usual). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-KE")} ${n === 1 ? one : many}`;
}

/** How people call a payment method. */
export function methodName(method: Method): string {
  const names: Record<Method, string> = { mpesa: "M-Pesa", card: "Card", paybill: "M-Pesa Pay Bill", cash: "Cash", cheque: "Cheque", bank: "Bank deposit" };
  return names[method];
}

/** A status or kind as people read it: `awaiting_customer` → `awaiting customer`. */
export function words(code: string): string {
  return code.replaceAll("_", " ");
}

/** `2026-11-30` → `30/11/2026`, day first whatever the machine's locale. */
export function kenyanDate(iso: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  return m ? `${m[3]}/${m[2]}/${m[1]}` : iso;
}

/** An RFC 3339 instant as a Nairobi date and time, day first: `27/11/2026 14:31` (with seconds if asked). */
export function nairobiTime(iso: string, seconds = false): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  // Built from the parts, so no locale can reorder them.
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Africa/Nairobi",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: seconds ? "2-digit" : undefined,
    hourCycle: "h23",
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  const time = `${part("hour")}:${part("minute")}${seconds ? `:${part("second")}` : ""}`;
  return `${part("day")}/${part("month")}/${part("year")} ${time}`;
}

/** How long before `now` an RFC 3339 instant was, in words: `just now`, `5 minutes ago`,
 * `3 hours ago`, `2 days ago`. */
export function ago(iso: string, now: Date = new Date()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const minutes = Math.floor((now.getTime() - at.getTime()) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${plural(minutes, "minute")} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${plural(hours, "hour")} ago`;
  return `${plural(Math.floor(hours / 24), "day")} ago`;
}

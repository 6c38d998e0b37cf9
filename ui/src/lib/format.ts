// Display helpers. Amounts are formatted from integer minor units with integer arithmetic.

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

/** `254712345678` → `0712 345 678` */
export function localPhone(msisdn: string): string {
  if (!/^254\d{9}$/.test(msisdn)) return msisdn;
  const n = msisdn.slice(3);
  return `0${n.slice(0, 3)} ${n.slice(3, 6)} ${n.slice(6)}`;
}

/**
 * Checks an amount as the clerk types it: digits with optional thousands commas and up to two
 * decimals, more than zero. Returns what is wrong, or null. (The services check again.)
 */
export function amountProblem(text: string): string | null {
  const t = text.trim().replace(/^(KES|Ksh)\s*/i, "");
  if (t === "") return "Enter the amount.";
  if (!/^(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$/.test(t)) {
    return "Use digits, like 1500 or 1,500.50.";
  }
  if (/^[0,]*(\.0*)?$/.test(t)) return "The amount must be more than zero.";
  return null;
}

/** Checks an amount for M-Pesa, which moves whole shillings only. */
export function mpesaAmountProblem(text: string): string | null {
  const problem = amountProblem(text);
  if (problem) return problem;
  if (/\.\d*[1-9]\d*$/.test(text.trim())) return "M-Pesa takes whole shillings: remove the cents, or take it by card.";
  return null;
}

/**
 * Checks a Kenyan mobile number as typed (07…, 01…, +254…, 254…, 7…), spaces and dashes
 * allowed. Returns what is wrong, or null.
 */
export function phoneProblem(text: string): string | null {
  const d = text.replace(/[\s-]/g, "").replace(/^\+/, "");
  if (d === "") return "Enter the customer's M-Pesa number.";
  if (!/^\d+$/.test(d)) return "Use digits only, like 0712 345 678.";
  const local = d.startsWith("254") ? d.slice(3) : d.startsWith("0") ? d.slice(1) : d;
  if (local.length !== 9) return "A Kenyan mobile number has 10 digits, like 0712 345 678.";
  if (!/^[71]/.test(local)) return "That is not a Kenyan mobile number (07… or 01…).";
  return null;
}

/** Checks an e-mail address as typed (Paystack sends the customer's receipt there). */
export function emailProblem(text: string): string | null {
  const t = text.trim();
  if (t === "") return "Enter the customer's e-mail address: Paystack sends the receipt there.";
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(t)) return "That is not an e-mail address, like amina@example.co.ke.";
  return null;
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

/** A status or kind as people read it: `awaiting_customer` → `awaiting customer`. */
export function words(code: string): string {
  return code.replaceAll("_", " ");
}

/** An RFC 3339 instant as a Nairobi date and time: `27 Nov 2026, 14:31` (with seconds if asked). */
export function nairobiTime(iso: string, seconds = false): string {
  return new Date(iso).toLocaleString("en-KE", {
    timeZone: "Africa/Nairobi",
    dateStyle: "medium",
    timeStyle: seconds ? "medium" : "short",
  });
}

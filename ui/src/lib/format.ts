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

// Svelte actions shared by the screens.

/** Brings a message into view as it appears (a warning or "Saved" below the edge of a small
 * screen looks as if nothing happened). */
export function inView(node: HTMLElement): void {
  node.scrollIntoView?.({ block: "nearest" });
}

/** Sent on `window` when a payment was recorded that the screen did not start (a paybill
 * arrival): lists of what policies owe look again. */
export const PAID_EVENT = "malipo:paid";

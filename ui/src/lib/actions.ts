// Svelte actions shared by the screens.

/** Brings a message into view as it appears (a warning or "Saved" below the edge of a small
 * screen looks as if nothing happened). */
export function inView(node: HTMLElement): void {
  node.scrollIntoView?.({ block: "nearest" });
}

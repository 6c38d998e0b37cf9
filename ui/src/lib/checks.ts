// As-you-type checks of what a clerk enters, answered by the services themselves (the
// `check_input` command), so a field is judged by the same rules here as when it is sent.
import { checkInput } from "./backend";
import type { InputKind } from "./types";

/** What is wrong with `text` as a `kind` (in `currency`), or null when nothing is. */
export async function problem(kind: InputKind, text: string, currency?: string): Promise<string | null> {
  try {
    return (await checkInput({ kind, text, currency })).problem;
  } catch {
    // Unanswered: the services check again when the form is sent.
    return null;
  }
}

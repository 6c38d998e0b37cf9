// The shapes the Rust services send (malipo_app::views). Money travels as an exact decimal
// string beside integer minor units; never as a float.

export interface List<T> {
  items: T[];
  total: number;
}

export interface PolicyView {
  number: string;
  holder: string;
  phone: string;
  email: string | null;
  premium: string;
  premium_minor: number;
  currency: string;
  frequency: string;
  created_at: string;
}

export type ErrorCode =
  | "invalid_input"
  | "not_found"
  | "conflict"
  | "unauthenticated"
  | "forbidden"
  | "internal";

export interface AppError {
  code: ErrorCode;
  message: string;
}

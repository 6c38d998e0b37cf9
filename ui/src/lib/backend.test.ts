import { describe, expect, it } from "vitest";
import { appError } from "./backend";

describe("appError", () => {
  it("keeps the services' errors as they are", () => {
    const e = { code: "forbidden", message: "otieno is a clerk and cannot approve refunds" };
    expect(appError(e)).toBe(e);
  });

  it("turns anything else into an internal error with its text", () => {
    expect(appError(new TypeError("x is undefined"))).toEqual({ code: "internal", message: "x is undefined" });
    expect(appError("lost")).toEqual({ code: "internal", message: "lost" });
    expect(appError(null)).toEqual({ code: "internal", message: "null" });
  });
});

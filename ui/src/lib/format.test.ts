import { describe, expect, it } from "vitest";
import { formatMoney, localPhone } from "./format";

describe("formatMoney", () => {
  it("groups thousands and keeps exact cents", () => {
    expect(formatMoney(150050, "KES")).toBe("KES 1,500.50");
    expect(formatMoney(5, "KES")).toBe("KES 0.05");
    expect(formatMoney(12345678900, "NGN")).toBe("NGN 123,456,789.00");
    expect(formatMoney(0, "KES")).toBe("KES 0.00");
  });

  it("refuses amounts that are not exact integers", () => {
    expect(() => formatMoney(1.5, "KES")).toThrow(RangeError);
  });
});

describe("localPhone", () => {
  it("shows stored numbers the way Kenyans read them", () => {
    expect(localPhone("254712345678")).toBe("0712 345 678");
    expect(localPhone("254110123456")).toBe("0110 123 456");
  });

  it("leaves anything else alone", () => {
    expect(localPhone("12345")).toBe("12345");
  });
});

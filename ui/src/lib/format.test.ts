import { describe, expect, it } from "vitest";
import { amountProblem, barPercent, mpesaAmountProblem, emailProblem, formatMoney, localPhone, nairobiDate, nairobiTime, phoneProblem, words } from "./format";

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


describe("amountProblem", () => {
  it("accepts what clerks type", () => {
    for (const ok of ["1500", "1,500", "1,500.50", "KES 200", "0.5", "250,000"]) {
      expect(amountProblem(ok)).toBeNull();
    }
  });
  it("names what is wrong", () => {
    expect(amountProblem("")).toMatch(/Enter/);
    expect(amountProblem("1.234")).toMatch(/digits/);
    expect(amountProblem("15,00")).toMatch(/digits/);
    expect(amountProblem("-5")).toMatch(/digits/);
    expect(amountProblem("0.00")).toMatch(/more than zero/);
  });
});

describe("phoneProblem", () => {
  it("accepts the usual ways of writing a number", () => {
    for (const ok of ["0712 345 678", "0110-123-456", "+254 712 345 678", "254712345678", "712345678"]) {
      expect(phoneProblem(ok)).toBeNull();
    }
  });
  it("names what is wrong", () => {
    expect(phoneProblem("")).toMatch(/Enter/);
    expect(phoneProblem("0712 345 67")).toMatch(/10 digits/);
    expect(phoneProblem("0812 345 678")).toMatch(/not a Kenyan mobile/);
    expect(phoneProblem("07x2345678")).toMatch(/digits only/);
  });
});

describe("emailProblem", () => {
  it("accepts an address and names what is wrong otherwise", () => {
    expect(emailProblem("amina@example.co.ke")).toBeNull();
    expect(emailProblem("")).toMatch(/receipt/);
    expect(emailProblem("amina.example.co.ke")).toMatch(/not an e-mail/);
    expect(emailProblem("amina@localhost")).toMatch(/not an e-mail/);
  });
});

describe("barPercent", () => {
  it("scales to the largest figure and keeps small ones visible", () => {
    expect(barPercent(150000, 300000)).toBe(50);
    expect(barPercent(300000, 300000)).toBe(100);
    expect(barPercent(1, 1_000_000)).toBe(1);
    expect(barPercent(0, 300000)).toBe(0);
    expect(barPercent(5, 0)).toBe(0);
  });
});

describe("nairobiDate", () => {
  it("uses Nairobi's calendar day, not the machine's", () => {
    // 22:30 UTC is already the next day in Nairobi (UTC+3).
    const late = new Date("2026-11-27T22:30:00Z");
    expect(nairobiDate(0, late)).toBe("2026-11-28");
    expect(nairobiDate(7, late)).toBe("2026-11-21");
  });
});

describe("words", () => {
  it("spells codes as words", () => {
    expect(words("awaiting_customer")).toBe("awaiting customer");
    expect(words("paid_not_recorded")).toBe("paid not recorded");
  });
});

describe("nairobiTime", () => {
  it("shows an instant on Nairobi's clock", () => {
    // 11:31 UTC is 14:31 in Nairobi.
    expect(nairobiTime("2026-11-27T11:31:00Z")).toContain("14:31");
    expect(nairobiTime("2026-11-27T11:31:05Z", true)).toContain("14:31:05");
  });
});

describe("mpesaAmountProblem", () => {
  it("accepts whole shillings and refuses cents", () => {
    expect(mpesaAmountProblem("850")).toBeNull();
    expect(mpesaAmountProblem("1,500.00")).toBeNull();
    expect(mpesaAmountProblem("850.50")).toMatch(/whole shillings/);
    expect(mpesaAmountProblem("")).toMatch(/Enter the amount/);
  });
});

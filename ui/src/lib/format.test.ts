import { describe, expect, it } from "vitest";
import { ago, barPercent, changeDue, formatMoney, minorUnits, kenyanDate, localPhone, methodName, nairobiDate, nairobiTime, plural, words } from "./format";

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


describe("plural", () => {
  it("says one payment and many payments", () => {
    expect(plural(1, "payment")).toBe("1 payment");
    expect(plural(0, "payment")).toBe("0 payments");
    expect(plural(1250, "payment")).toBe("1,250 payments");
    expect(plural(2, "refund waits", "refunds wait")).toBe("2 refunds wait");
  });
});

describe("methodName", () => {
  it("names each method as clerks say it", () => {
    expect(methodName("mpesa")).toBe("M-Pesa");
    expect(methodName("card")).toBe("Card");
    expect(methodName("paybill")).toBe("M-Pesa Pay Bill");
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
  it("shows an instant on Nairobi's clock, day first", () => {
    // 11:31 UTC is 14:31 in Nairobi; 22:30 UTC is already the next day there.
    expect(nairobiTime("2026-11-27T11:31:00Z")).toBe("27/11/2026 14:31");
    expect(nairobiTime("2026-11-27T11:31:05Z", true)).toBe("27/11/2026 14:31:05");
    expect(nairobiTime("2026-11-30T22:30:00Z")).toBe("01/12/2026 01:30");
    expect(nairobiTime("not a time")).toBe("not a time");
  });
});

describe("kenyanDate", () => {
  it("writes a date day first", () => {
    expect(kenyanDate("2026-11-30")).toBe("30/11/2026");
    expect(kenyanDate("2027-01-05")).toBe("05/01/2027");
    expect(kenyanDate("whenever")).toBe("whenever");
  });
});


describe("ago", () => {
  const now = new Date("2026-12-07T09:00:00+03:00");
  it("says how long ago, in the largest whole unit", () => {
    expect(ago("2026-12-07T05:59:40Z", now)).toBe("just now");
    expect(ago("2026-12-07T05:59:00Z", now)).toBe("1 minute ago");
    expect(ago("2026-12-07T05:05:00Z", now)).toBe("55 minutes ago");
    expect(ago("2026-12-07T03:00:00Z", now)).toBe("3 hours ago");
    expect(ago("2026-12-04T06:00:00Z", now)).toBe("3 days ago");
  });
  it("leaves what is not an instant as it is", () => {
    expect(ago("soon", now)).toBe("soon");
  });
});

describe("changeDue", () => {
  it("reads amounts as clerks type them, exactly, without floats", () => {
    expect(minorUnits("2,000")).toBe(200_000);
    expect(minorUnits(" 1500.5 ")).toBe(150_050);
    expect(minorUnits("0.07")).toBe(7);
    for (const bad of ["", "12,00", "1.234", "-5", "1e3", "KES 100", "99999999999999999999"]) {
      expect(minorUnits(bad)).toBeNull();
    }
  });
  it("gives the change, negative when short, null while unreadable", () => {
    expect(changeDue("1,250", "2,000")).toBe(75_000);
    expect(changeDue("1250", "1250.00")).toBe(0);
    expect(changeDue("1250", "1000")).toBe(-25_000);
    expect(changeDue("1250", "")).toBeNull();
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BerthError } from "../../lib/errdefs.js";
import { parseQuantity, Quantity } from "./quantity.js";

describe("parseQuantity", () => {
  // After apimachinery's TestQuantityParse: the amount each form stands for, in nano-units.
  const cases: [string | number, bigint][] = [
    ["0", 0n],
    ["-0", 0n],
    ["000", 0n],
    ["1", 1_000_000_000n],
    ["+5", 5_000_000_000n],
    ["-1", -1_000_000_000n],
    ["1.5", 1_500_000_000n],
    [".5", 500_000_000n],
    ["1.", 1_000_000_000n],
    ["100m", 100_000_000n],
    ["0.5m", 500_000n],
    ["250u", 250_000n],
    ["100n", 100n],
    ["1k", 1_000_000_000_000n],
    ["1M", 10n ** 15n],
    ["10G", 10n ** 19n],
    ["1T", 10n ** 21n],
    ["1P", 10n ** 24n],
    ["1E", 10n ** 27n],
    ["1.G", 10n ** 18n],
    ["1Ki", 1024n * 10n ** 9n],
    ["0.5Ki", 512n * 10n ** 9n],
    ["128Mi", 134217728n * 10n ** 9n],
    ["1Gi", 1073741824n * 10n ** 9n],
    ["1.5Gi", 1610612736n * 10n ** 9n],
    ["5e3", 5000n * 10n ** 9n],
    ["1E6", 10n ** 15n],
    ["1e+3", 10n ** 12n],
    ["1e-3", 1_000_000n],
    ["12e-9", 12n],
    [0.5, 500_000_000n],
    [2, 2_000_000_000n],
  ];
  for (const [input, nanos] of cases) {
    it(`reads ${JSON.stringify(input)}`, () => {
      assert.equal(parseQuantity(input).nanos, nanos);
    });
  }

  it("rounds amounts finer than a nano-unit up, so a little never becomes nothing", () => {
    assert.equal(parseQuantity("0.1n").nanos, 1n);
    assert.equal(parseQuantity("1e-20").nanos, 1n);
    assert.equal(parseQuantity("1.0000000001").nanos, 1_000_000_001n);
    assert.equal(parseQuantity("0.0000000001Ki").nanos, 103n); // 102.4n rounds up
  });

  it("caps amounts at 2^63-1 units, as apimachinery's maxAllowed", () => {
    const max = (1n << 63n) - 1n;
    assert.equal(parseQuantity("16Ei").value(), max);
    assert.equal(parseQuantity("1e100").value(), max);
    assert.equal(parseQuantity("1e1000000000").value(), max);
    assert.equal(parseQuantity("-1e100").value(), -max);
  });

  // apimachinery's invalid quantities: malformed forms and unknown suffixes.
  const invalid: [string, RegExp][] = [
    ["", /must match the regular expression/],
    ["1.1.1", /must match the regular expression/],
    ["1.1.M", /must match the regular expression/],
    [" 1", /must match the regular expression/],
    ["1 ", /must match the regular expression/],
    ["abc", /must match the regular expression/],
    ["1Gix", /must match the regular expression/],
    ["1KB", /must match the regular expression/],
    ["1K", /unable to parse quantity's suffix/],
    ["1Ki1", /unable to parse quantity's suffix/],
    ["0.1mi", /unable to parse quantity's suffix/],
    [".5i", /unable to parse quantity's suffix/],
    ["1e", /unable to parse quantity's suffix/],
    ["1+1", /unable to parse quantity's suffix/],
    ["1e99999999999999999999", /unable to parse quantity's suffix/],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)} naming it`, () => {
      assert.throws(
        () => parseQuantity(input),
        (err: unknown) =>
          err instanceof BerthError &&
          err.kind === "InvalidArgument" &&
          err.message.includes(JSON.stringify(input)) &&
          message.test(err.message),
      );
    });
  }
});

describe("Quantity", () => {
  it("value() rounds any fraction away from zero, as Quantity.Value", () => {
    const values: [string, bigint][] = [
      ["0", 0n],
      ["1", 1n],
      ["100m", 1n],
      ["1.5", 2n],
      ["1001m", 2n],
      ["128Mi", 134217728n],
      ["-0.5", -1n],
      ["-1.5", -2n],
    ];
    for (const [input, value] of values) assert.equal(parseQuantity(input).value(), value, input);
  });

  it("milliValue() rounds any fraction away from zero, as Quantity.MilliValue", () => {
    const values: [string, bigint][] = [
      ["0", 0n],
      ["1", 1000n],
      ["1.5", 1500n],
      ["100m", 100n],
      ["0.5m", 1n],
      ["1n", 1n],
      ["0.0001", 1n],
      ["5e-3", 5n],
      ["2Ki", 2048000n],
      ["-0.5m", -1n],
    ];
    for (const [input, value] of values) assert.equal(parseQuantity(input).milliValue(), value, input);
  });

  it("compares and adds exactly across suffixes", () => {
    assert.equal(parseQuantity("1Gi").cmp(parseQuantity("1073741824")), 0);
    assert.equal(parseQuantity("1G").cmp(parseQuantity("1Gi")), -1);
    assert.equal(parseQuantity("1500m").cmp(parseQuantity("1.5")), 0);
    assert.equal(parseQuantity("2").cmp(parseQuantity("1999m")), 1);
    assert.equal(parseQuantity("100m").add(parseQuantity("0.9")).nanos, 1_000_000_000n);
    assert.ok(Quantity.zero.isZero());
    assert.ok(!parseQuantity("1n").isZero());
  });
});

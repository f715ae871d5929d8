import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstChangedNumber } from "../../src/mcp/number-literals.ts";

const changed = (text: string) => firstChangedNumber(text);

describe("defect 13: numbers change on the way (number literals that do not survive parsing)", () => {
  it.each([
    ["9007199254740993", 9007199254740992],
    ["1e-400", 0],
    ["-1e-400", -0],
    ["1.00000000000000001", 1],
    ["12345678901234567890", 12345678901234567000],
    ["0.30000000000000000001", 0.3],
    ["1.23456789e-320", 1.2347e-320],
    ["1e999", Infinity],
    ["-1e999", -Infinity],
    [`1${"0".repeat(400)}`, Infinity],
    [`0.${"0".repeat(400)}1`, 0],
  ])("%s is found, with what it parses to", (literal, parsed) => {
    expect(changed(`{"a":${literal}}`)).toEqual({ path: ["a"], parsed });
  });

  it.each([
    "0", "-0", "1", "-1", "1.0", "0.10", "1e2", "1E+2", "1e-2", "-1.5e-7", "123456789012345", "0.000000000001",
    "9007199254740992", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "100000000000000000000000",
    "0.1000000000000000000000", "1.5e-323", "0e999999999999999999999", `1${"0".repeat(300)}`, "3.141592653589793",
  ])("%s survives", (literal) => {
    expect(changed(`[${literal}]`)).toBeUndefined();
  });

  it("names the path the text gives, through arrays, escaped member names and batches", () => {
    expect(changed('{"a":[1,2,{"b\\"c":[0,1e-400]}]}')).toMatchObject({ path: ["a", 2, 'b"c', 1] });
    expect(changed('[{"x":1},{"params":{"p":{"":9007199254740993}}}]')).toMatchObject({ path: [1, "params", "p", ""] });
    expect(changed('{"a":{},"b":[],"c":[[],[1],{"d":[]}],"e":1e-999}')).toMatchObject({ path: ["e"] });
  });

  it("numbers inside strings are text, however they are escaped", () => {
    expect(changed('{"a":"1e-400","b\\\\":"\\"9007199254740993\\\\","c":["\\\\\\"",1]}')).toBeUndefined();
    expect(changed('{"a":"\\\\","b":1e-400}')).toMatchObject({ path: ["b"] });
  });

  it("whatever JSON.stringify writes survives", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(changed(JSON.stringify(value))).toBeUndefined();
      }),
      { numRuns: 2000 },
    );
  });

  it("every finite double survives in its shortest form, in exponent form, and with zeros appended", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 30 }), (value, zeros) => {
        const exponent = value.toExponential();
        const [mantissa = "", power = ""] = exponent.split("e");
        const padded = `${mantissa.includes(".") ? mantissa : `${mantissa}.`}${"0".repeat(zeros)}e${power}`;
        for (const literal of [JSON.stringify(value), exponent, padded]) expect(changed(`[${literal}]`)).toBeUndefined();
      }),
      { numRuns: 5000 },
    );
  });

  it("a literal with more significant digits than any double's shortest form never survives", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => value !== 0), fc.integer({ min: 18, max: 40 }), fc.integer({ min: 1, max: 9 }), (value, digits, last) => {
        const [mantissa = "", power = ""] = value.toExponential(digits - 2).split("e");
        // digits - 1 significant digits from toExponential, then one more that is not zero.
        const literal = `${mantissa}${last}e${power}`;
        expect(changed(`{"n":${literal}}`)).toMatchObject({ path: ["n"] });
      }),
      { numRuns: 5000 },
    );
  });
});

// Python str()/repr() of YAML values and shlex.quote, checked against tables computed with CPython.
import { describe, expect, test } from "bun:test"
import { floatRepr, pythonRepr, pythonStr, stringRepr } from "../../src/project/python-str.ts"
import { shellQuote } from "../../src/project/shell-quote.ts"
import { floatReprs, shlexQuotes } from "./python-tables.ts"

describe("floatRepr is Python's repr(float)", () => {
  for (const [x, expected] of floatReprs) test(`${expected}`, () => expect(floatRepr(x)).toBe(expected))
  test("inf, -inf, nan", () => {
    expect([Infinity, -Infinity, NaN].map(floatRepr)).toEqual(["inf", "-inf", "nan"])
  })
})

describe("pythonStr renders values as MLflow's str() does", () => {
  const cases: Array<[Parameters<typeof pythonStr>[0], string]> = [
    [true, "True"],
    [false, "False"],
    [null, "None"],
    [10n, "10"],
    [-123456789012345678901234567890n, "-123456789012345678901234567890"],
    [0.5, "0.5"],
    [1, "1.0"],
    [1e-5, "1e-05"],
    ["1e-5", "1e-5"],
    ["it's", "it's"],
    [["a", 1n, 2.5, null, true], "['a', 1, 2.5, None, True]"],
    [{ kind: "dict", entries: [["a", 1n], ["b", ["x"]]] }, "{'a': 1, 'b': ['x']}"],
    [{ kind: "date", year: 2024, month: 1, day: 5 }, "2024-01-05"],
    [{ kind: "datetime", year: 2024, month: 1, day: 5, hour: 7, minute: 0, second: 0, microsecond: 0, offset: null }, "2024-01-05 07:00:00"],
    [{ kind: "datetime", year: 2024, month: 1, day: 5, hour: 7, minute: 0, second: 3, microsecond: 120, offset: -330 }, "2024-01-05 07:00:03.000120-05:30"],
  ]
  for (const [v, expected] of cases) test(expected, () => expect(pythonStr(v)).toBe(expected))
  test("repr of strings picks Python's quotes and escapes", () => {
    expect(stringRepr("a'b")).toBe(`"a'b"`)
    expect(stringRepr(`a'"b`)).toBe(`'a\\'"b'`)
    expect(stringRepr("tab\tnew\nline\\")).toBe("'tab\\tnew\\nline\\\\'")
    expect(stringRepr("é\u00a0\u200b\u{1F600}")).toBe("'é\\xa0\\u200b\u{1F600}'")
    expect(stringRepr("é\u{1F600}", true)).toBe("'\\xe9\\U0001f600'")
    expect(pythonRepr(["é"])).toBe("['é']")
  })
})

describe("shellQuote is Python's shlex.quote", () => {
  for (const [input, expected] of shlexQuotes) test(JSON.stringify(input), () => expect(shellQuote(input)).toBe(expected))
})

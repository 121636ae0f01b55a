// Metric values are written as Python's repr(float) and lines as MLflow's FileStore writes them.
import { describe, expect, test } from "bun:test"
import { formatMetricLine, formatPythonFloat, latestMetric, parseMetricLine, parsePythonFloat } from "../../src/tracking/metric-line.ts"
import tables from "./fixtures/python-tables.json"

describe("repr(float)", () => {
  test.each([
    [0, "0.0"],
    [-0, "-0.0"],
    [1, "1.0"],
    [100, "100.0"],
    [0.1, "0.1"],
    [877.3344116210938, "877.3344116210938"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [0.00012345, "0.00012345"],
    [1e16, "1e+16"],
    [1234567890123456, "1234567890123456.0"],
    [12345678901234567, "1.2345678901234568e+16"],
    [1e22, "1e+22"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [NaN, "nan"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
  ])("%p → %s", (value, text) => {
    expect(formatPythonFloat(value)).toBe(text)
  })

  test(`matches Python ${tables.python} on ${tables.floats.length} values`, () => {
    const wrong = tables.floats
      .map(([input = "", expected = ""]) => ({ input, expected, actual: formatPythonFloat(Number(input)) }))
      .filter((c) => c.actual !== c.expected)
    expect(wrong).toEqual([])
  })

  test("parses back every repr", () => {
    const wrong = tables.floats.filter(([input = "", text = ""]) => !Object.is(parsePythonFloat(text), Number(input)))
    expect(wrong).toEqual([])
  })
})

test.each([
  ["-inf", -Infinity],
  ["+Infinity", Infinity],
  ["NAN", NaN],
  ["1_000.5", 1000.5],
  ["abc", null],
  ["", null],
  ["0x10", null],
])("float(%j)", (text, value) => {
  expect(parsePythonFloat(text)).toEqual(value)
})

test("a metric line is `<ms> <repr> <step>\\n`", () => {
  expect(formatMetricLine({ key: "loss", value: 1, timestamp: 1721829011136, step: 0 })).toBe("1721829011136 1.0 0\n")
  expect(formatMetricLine({ key: "lr", value: 0.00001, timestamp: 5, step: -3 })).toBe("5 1e-05 -3\n")
})

test.each([
  ["1721829011136 0.5 2", { key: "m", value: 0.5, timestamp: 1721829011136, step: 2 }],
  ["17 0.5", { key: "m", value: 0.5, timestamp: 17, step: 0 }], // pre-1.0 lines had no step
  ["17 nan 1\n", { key: "m", value: NaN, timestamp: 17, step: 1 }],
  ["17 0.5 1 m-abc", null], // logged-model lines (4 fields) are not run metrics
  ["x 0.5 1", null],
])("parses %j", (line, metric) => {
  expect(parseMetricLine("m", line)).toEqual(metric)
})

test("latest is the max of (step, timestamp, value), first wins on ties, NaN never wins a tie", () => {
  const m = (value: number, timestamp: number, step: number) => ({ key: "m", value, timestamp, step })
  expect(latestMetric([m(9, 9, 0), m(1, 1, 1)])).toEqual(m(1, 1, 1))
  expect(latestMetric([m(1, 5, 1), m(2, 4, 1)])).toEqual(m(1, 5, 1))
  expect(latestMetric([m(1, 5, 1), m(2, 5, 1)])).toEqual(m(2, 5, 1))
  expect(latestMetric([m(NaN, 5, 1), m(2, 5, 1)])?.value).toBeNaN()
  expect(latestMetric([m(2, 5, 1), m(NaN, 5, 1)])?.value).toBe(2)
  expect(latestMetric([])).toBeUndefined()
})

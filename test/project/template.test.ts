// Command templates: parsed and filled like Python's str.format(**params).
import { describe, expect, test } from "bun:test"
import { parseTemplate, renderTemplate } from "../../src/project/template.ts"
import { formatCases, formatFailures, formatValues } from "./python-tables.ts"

const values = new Map(Object.entries(formatValues))

describe("templates Python formats", () => {
  for (const [template, expected] of formatCases) {
    test(`${template} → ${expected}`, () => {
      const parsed = parseTemplate(template)
      expect(parsed.problem).toBeNull()
      expect(renderTemplate(parsed.parts, values)).toBe(expected)
    })
  }
})

describe("templates that cannot be formatted are problems, never crashes", () => {
  for (const template of formatFailures) {
    test(template, () => expect(parseTemplate(template).problem?.message).toBeString())
  }
  const messages: Array<[string, string, number]> = [
    ["python {a", "expected '}' before end of string", 7],
    ["echo }", "Single '}' encountered in format string", 5],
    ["echo {", "Single '{' encountered in format string", 5],
    ["run {0}", "positional placeholder {0}: MLflow fills the command with named parameters only, so Python raises IndexError", 4],
    ["run {}", "positional placeholder {}: MLflow fills the command with named parameters only, so Python raises IndexError", 4],
    ["run {a!x}", "Unknown conversion specifier x", 4],
    ["run {a:d}", "placeholder {a:d}: Unknown format code 'd' for object of type 'str'", 4],
    ["run {a[0]}", "placeholder {a[0]} uses attribute or index access, which is not supported", 4],
  ]
  for (const [template, message, offset] of messages) {
    test(`${template}: ${message}`, () => expect(parseTemplate(template).problem).toEqual({ message, offset }))
  }
})

test("fields keep their names, conversions and offsets; {{ }} are literal braces", () => {
  const { parts } = parseTemplate("python x.py --n {batch-size} {{literal}} {a!r:>4}")
  expect(parts).toEqual([
    "python x.py --n ",
    { name: "batch-size", conversion: null, spec: { fill: " ", align: "<", width: 0, precision: null }, offset: 16, text: "{batch-size}" },
    " {literal} ",
    { name: "a", conversion: "r", spec: { fill: " ", align: ">", width: 4, precision: null }, offset: 41, text: "{a!r:>4}" },
  ])
})

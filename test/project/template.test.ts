// Command templates: parsed and filled like Python's str.format(**params).
import { describe, expect, test } from "bun:test"
import { parseTemplate, renderTemplate } from "../../src/project/template.ts"
import { formatCases, formatFailures, formatValues, refusedFields } from "./python-tables.ts"

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
    ["run {a:d}", "placeholder {a:d} has a format spec, which mlproject refuses: it could cut or pad the shell-quoted value", 4],
    ["run {a[0]}", "placeholder {a[0]} uses attribute or index access, which mlproject refuses: it would take characters out of the shell-quoted value", 4],
    ["run {a!r}", "placeholder {a!r} applies the conversion !r, which mlproject refuses: it would undo the shell quoting of the value", 4],
  ]
  for (const [template, message, offset] of messages) {
    test(`${template}: ${message}`, () => expect(parseTemplate(template).problem).toEqual({ message, offset }))
  }
})

describe("conversions and format specs, which Python accepts, are refused: they would reach the quoted value", () => {
  for (const [template, kind] of refusedFields) {
    test(`${template}: ${kind}`, () => {
      const { problem } = parseTemplate(template)
      expect(problem?.message).toContain(kind === "conversion" ? "applies the conversion" : "has a format spec")
      expect(problem?.message).toContain("mlproject refuses")
    })
  }

  test("a huge spec is refused without being read, and not repeated whole in the message", () => {
    const template = `echo {a:>${"9".repeat(100_000)}}`
    const started = performance.now()
    const { problem } = parseTemplate(template)
    expect(performance.now() - started).toBeLessThan(200)
    expect(problem?.offset).toBe(5)
    expect(problem?.message.length).toBeLessThan(200)
  })
})

test("fields keep their names and offsets; {{ }} are literal braces; values are substituted as given", () => {
  const { parts, problem } = parseTemplate("python x.py --n {batch-size} {{literal}} {a}")
  expect(problem).toBeNull()
  expect(parts).toEqual(["python x.py --n ", { name: "batch-size", offset: 16, text: "{batch-size}" }, " {literal} ", { name: "a", offset: 41, text: "{a}" }])
  expect(renderTemplate(parts, new Map([["batch-size", "32"], ["a", "'$(x)'"]]))).toBe("python x.py --n 32 {literal} '$(x)'")
})

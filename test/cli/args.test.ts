// argv parsing: long/short forms, attached values, repeated and malformed -P, unknown options.
import { describe, expect, test } from "bun:test"
import { parseArgs, parsePairs, type OptionSpec } from "../../src/cli/args.ts"
import { ToolError } from "../../src/errors.ts"

const specs: OptionSpec[] = [
  { long: "entry-point", short: "e", kind: "value", description: "" },
  { long: "param-list", short: "P", kind: "list", description: "" },
  { long: "build-image", kind: "flag", description: "" },
]

describe("parseArgs", () => {
  test.each([
    [["-e", "train"], { "entry-point": "train" }],
    [["-etrain"], { "entry-point": "train" }],
    [["--entry-point", "train"], { "entry-point": "train" }],
    [["--entry-point=train"], { "entry-point": "train" }],
    [["--entry-point=a=b"], { "entry-point": "a=b" }],
  ])("%p gives values %p", (argv, values) => {
    expect(parseArgs("run", argv, specs, 1).values).toEqual(values)
  })

  test("lists keep order and accept every form, flags need no value, positionals are kept", () => {
    const parsed = parseArgs("run", [".", "-P", "a=1", "-Pb=2", "--param-list", "c=x=y", "--param-list=d=", "--build-image"], specs, 1)
    expect(parsed.lists["param-list"]).toEqual(["a=1", "b=2", "c=x=y", "d="])
    expect(parsed.flags["build-image"]).toBe(true)
    expect(parsed.positionals).toEqual(["."])
  })

  test("a value may start with a dash when it follows its option", () => {
    expect(parseArgs("run", ["-P", "-x=1"], specs, 1).lists["param-list"]).toEqual(["-x=1"])
  })

  test.each([
    [["--nope"], "unknown option '--nope' for 'mlproject run'"],
    [["-Z"], "unknown option '-Z' for 'mlproject run'"],
    [["--nope=1"], "unknown option '--nope' for 'mlproject run'"],
    [["-e"], "option -e needs a value"],
    [["--build-image=yes"], "option --build-image takes no value (got 'yes')"],
    [["a", "b"], "unexpected argument 'b' (at most 1 expected)"],
  ])("%p is refused: %s", (argv, message) => {
    expect(() => parseArgs("run", argv, specs, 1)).toThrow(message)
  })
})

describe("parsePairs", () => {
  test("splits on the first '=' and keeps empty values", () => {
    expect(parsePairs("-P", ["a=1", "b=x=y", "c="], false)).toEqual([
      ["a", "1"],
      ["b", "x=y"],
      ["c", ""],
    ])
  })
  test("bare names become true where allowed (-A)", () => {
    expect(parsePairs("-A", ["t", "gpus=all"], true)).toEqual([
      ["t", "true"],
      ["gpus", "all"],
    ])
  })
  test.each([
    [["alpha"], "Invalid format for -P parameter: 'alpha'. Use -P name=value."],
    [["a=1", "a=2"], "Repeated parameter: 'a'"],
    [["=1"], "the name is empty"],
  ])("%p is refused with %s", (items, message) => {
    let error: unknown
    try {
      parsePairs("-P", items, false)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ToolError)
    expect((error as ToolError).message).toContain(message)
    expect((error as ToolError).exitCode).toBe(2)
  })
})

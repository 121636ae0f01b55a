// YAML reading: PyYAML's scalar rules, positions, duplicate keys, and hostile input.
import { describe, expect, test } from "bun:test"
import { ToolError } from "../../src/errors.ts"
import { pythonRepr, pythonStr } from "../../src/project/python-str.ts"
import { parseYaml, readYaml, toPython, type YNode } from "../../src/project/yaml.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { pyyamlScalars } from "./python-tables.ts"
import { thrown } from "../lib/caught.ts"

const value = (text: string) => {
  const root = parseYaml(`v: ${text}\n`, "t.yaml").root
  if (root?.kind !== "map") throw new Error("not a map")
  return toPython(root.entries[0]?.value ?? null)
}


describe("scalars resolve as PyYAML's safe_load resolves them", () => {
  for (const [text, expected] of pyyamlScalars) {
    if (expected === null) {
      test(`v: ${text} is an error, as in PyYAML`, () => {
        const error = thrown(() => value(text))
        expect(error.code).toStartWith("yaml.")
        expect(error.location?.line).toBeGreaterThanOrEqual(1)
      })
      continue
    }
    test(`v: ${text} → repr ${expected[0]}, str ${expected[1]}`, () => {
      const v = value(text)
      expect(pythonRepr(v)).toBe(expected[0])
      expect(pythonStr(v)).toBe(expected[1])
    })
  }
  test("!!binary is refused with a hint (PyYAML builds bytes; no MLproject needs them)", () => {
    const error = thrown(() => value("!!binary aGk="))
    expect(error.code).toBe("yaml.tag")
    expect(error.message).toBe("unsupported YAML tag tag:yaml.org,2002:binary")
  })
})

const at = (node: YNode | undefined) => node && [node.pos.line, node.pos.column]

describe("documents", () => {
  test("keeps 1-based line:column of every key and value", () => {
    const root = parseYaml("name: x\nentry_points:\n  main:\n    command: \"python {a}\"\n", "MLproject").root
    if (root?.kind !== "map") throw new Error("map expected")
    const [name, eps] = root.entries
    expect(at(name?.key)).toEqual([1, 1])
    expect(at(name?.value)).toEqual([1, 7])
    expect(at(eps?.key)).toEqual([2, 1])
    const main = eps?.value.kind === "map" ? eps.value.entries[0] : undefined
    expect(at(main?.key)).toEqual([3, 3])
    const command = main?.value.kind === "map" ? main.value.entries[0] : undefined
    expect(at(command?.key)).toEqual([4, 5])
    expect(at(command?.value)).toEqual([4, 14])
  })

  test("duplicate keys: the last value wins at the first key's place, with a located warning", () => {
    const doc = parseYaml("a: 1\nb: 2\na: 3\n", "f")
    expect(pythonRepr(toPython(doc.root))).toBe("{'a': 3, 'b': 2}")
    expect(doc.warnings).toEqual([
      {
        code: "yaml.duplicate_key",
        message: "duplicate key 'a': the value on line 3 replaces the one on line 1, as in MLflow",
        hint: "remove the duplicate; only the last one takes effect",
        pos: { line: 3, column: 1 },
      },
    ])
  })

  test("Python dict equality: 1, 1.0 and true are one key", () => {
    expect(pythonRepr(toPython(parseYaml("1: a\n1.0: b\ntrue: c\n", "f").root))).toBe("{1: 'c'}")
  })

  test("merge keys: explicit keys win, earlier mappings in a merge list win", () => {
    const text = "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc:\n  <<: [*a, *b]\n  y: 3\n"
    expect(pythonRepr(toPython(parseYaml(text, "f").root))).toBe("{'a': {'x': 1, 'y': 1}, 'b': {'x': 2, 'z': 2}, 'c': {'x': 1, 'z': 2, 'y': 3}}")
  })

  test("CRLF line endings, a BOM and a missing final newline all load", () => {
    const doc = parseYaml("\uFEFFname: x\r\ncommand: |\r\n  a\r\n  b", "f")
    expect(pythonRepr(toPython(doc.root))).toBe("{'name': 'x', 'command': 'a\\nb'}")
  })

  test("a block scalar that ends the file without a newline has no final newline (as PyYAML)", () => {
    const command = (text: string) => pythonStr(toPython(parseYaml(text, "f").root))
    expect(command("c: >\n  python x.py\n  --a 1")).toBe("{'c': 'python x.py --a 1'}")
    expect(command("c: |\n  python x.py\n")).toBe("{'c': 'python x.py\\n'}")
  })

  test("PyYAML's leniencies are kept: unindented quoted continuation lines, comments glued to flow collections", () => {
    const read = (text: string) => pythonRepr(toPython(parseYaml(text, "f").root))
    expect(read('entry_points:\n  main:\n    command: "python train.py\n--alpha {alpha}"\n    parameters: {alpha: float}\n')).toBe(
      "{'entry_points': {'main': {'command': 'python train.py --alpha {alpha}', 'parameters': {'alpha': 'float'}}}}",
    )
    expect(read("a:\n  - 'it''s\n  here'\n  - \"x \\\" y\n  z\"\n")).toBe(`{'a': ["it's here", 'x " y z']}`)
    expect(read("a: {type: float, default: 0.1}# note\nb: [1]#x\n")).toBe("{'a': {'type': 'float', 'default': 0.1}, 'b': [1]}")
    expect(() => parseYaml('a: "never closed\nb: 1\n', "f")).toThrow(/^invalid YAML: Missing closing "quote/)
  })

  test("empty and comment-only documents are empty", () => {
    expect(parseYaml("", "f").root).toBeNull()
    expect(parseYaml("# nothing\n---\n", "f").root).toBeNull()
  })

  test("syntax errors are located", () => {
    const error = thrown(() => parseYaml("name: x\nentry_points:\n  main: [a, b\n", "MLproject"))
    expect(error.code).toBe("yaml.syntax")
    expect(error.message).toStartWith("invalid YAML: ")
    expect(error.location?.file).toBe("MLproject")
    expect(error.location?.line).toBeGreaterThanOrEqual(3)
  })

  test("duplicate anchors are an error, as in PyYAML", () => {
    expect(thrown(() => parseYaml("- &a x\n- *a\n- &a y\n", "f")).message).toBe("invalid YAML: found duplicate anchor 'a'")
  })
})

describe("hostile input: a clear error in well under a second", () => {
  const quick = (fn: () => unknown): { error: ToolError; ms: number } => {
    const start = performance.now()
    const error = thrown(fn)
    return { error, ms: performance.now() - start }
  }

  test("a billion-laughs alias bomb", () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i)
      const name = String.fromCharCode(97 + i)
      lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`)
    }
    const { error, ms } = quick(() => parseYaml(lines.join("\n"), "MLproject"))
    expect(error.code).toBe("yaml.aliases")
    expect(error.message).toBe('YAML aliases expand to more than 100000 values (a "billion laughs" document?)')
    expect(error.location?.line).toBeGreaterThan(1)
    expect(ms).toBeLessThan(1000)
  })

  test("a 5 MB file is refused before it is read", async () => {
    await using dir = tmpdirFor()
    const file = dir.write("MLproject", `name: x\n${"# padding padding padding\n".repeat(200_000)}`)
    const { error, ms } = quick(() => readYaml(dir.path, file, "MLproject"))
    expect(error.code).toBe("yaml.too_large")
    expect(error.message).toBe("MLproject is 5200008 bytes; files over 128 KiB are refused")
    expect(ms).toBeLessThan(1000)
  })

  test("binary garbage: NUL bytes and invalid UTF-8", async () => {
    await using dir = tmpdirFor()
    const nul = quick(() => parseYaml("name: x\nentry\u0000points: {}\n", "MLproject"))
    expect(nul.error.code).toBe("yaml.binary")
    expect(nul.error.message).toBe("unacceptable character #x0000: the file is not YAML text (binary data?)")
    expect(nul.error.location).toEqual({ file: "MLproject", line: 2, column: 6 })
    const file = `${dir.path}/MLproject`
    await Bun.write(file, new Uint8Array([0x6e, 0x3a, 0x20, 0xff, 0xfe, 0x80, 0x0a]))
    const bad = quick(() => readYaml(dir.path, file, "MLproject"))
    expect(bad.error.code).toBe("yaml.binary")
    expect(bad.error.message).toBe("MLproject is not UTF-8 text (binary data?)")
    const random = new Uint8Array(64 * 1024).map((_, i) => (i * 7919) % 256)
    await Bun.write(file, random)
    const garbage = quick(() => readYaml(dir.path, file, "MLproject"))
    expect(garbage.error.code).toBe("yaml.binary")
    expect(garbage.ms).toBeLessThan(1000)
  })

  for (const [label, text] of [
    ["10,000 nested [", "[".repeat(10_000) + "]".repeat(10_000)],
    ["10,000 unclosed [", "[".repeat(10_000)],
    ["10,000 nested {a: ", "{a: ".repeat(10_000) + "1" + "}".repeat(10_000)],
    ["10,000 compact - on one line", "- ".repeat(10_000) + "x"],
    ["200 indented block levels", Array.from({ length: 200 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n") + " x"],
    ["128 KiB of [", "[".repeat(128 * 1024 - 1)],
  ] as const) {
    test(`deep nesting: ${label}`, () => {
      const { error, ms } = quick(() => parseYaml(text, "MLproject"))
      expect(error.code).toBe("yaml.too_deep")
      expect(error.message).toBe("YAML nesting is deeper than 100 levels")
      expect(error.location?.line).toBeGreaterThanOrEqual(1)
      expect(ms).toBeLessThan(1000)
    })
  }
})

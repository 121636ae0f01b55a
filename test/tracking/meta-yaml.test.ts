// meta.yaml writing matches PyYAML's safe_dump (libyaml) byte for byte, and reading keeps every era's values.
import { describe, expect, test } from "bun:test"
import { dumpMetaYaml, metaInt, metaString, parseMetaYaml } from "../../src/tracking/meta-yaml.ts"
import { parseDocument } from "yaml"
import { parseFlatYaml } from "../../src/tracking/flat-yaml.ts"
import { plainReadsAsString } from "../../src/tracking/yaml-emit.ts"
import { readsAsNull, resolvePlain } from "../../src/util/pyyaml-resolver.ts"
import tables from "./fixtures/python-tables.json"

// The rules that matter most for MLflow's files, spelled out (outputs taken from PyYAML 6 + libyaml).
const quoting: Array<[string, string]> = [
  ["inquisitive-ray-539", "k: inquisitive-ray-539"],
  ["file:///a%20b/mlruns/0", "k: file:///a%20b/mlruns/0"],
  ["mlflow-artifacts:/0", "k: mlflow-artifacts:/0"],
  ["0", "k: '0'"], // digits read back as an int
  ["007", "k: '007'"],
  ["", "k: ''"],
  ["yes", "k: 'yes'"], // YAML 1.1 booleans
  ["No", "k: 'No'"],
  ["null", "k: 'null'"],
  ["~", "k: '~'"],
  ["1.5", "k: '1.5'"],
  ["2020-01-01", "k: '2020-01-01'"], // timestamp
  ["<<", "k: '<<'"], // merge key
  ["1e3", "k: 1e3"], // not a float in YAML 1.1 (no dot), so PyYAML leaves it plain
  ["0o7", "k: 0o7"],
  ["a: b", "k: 'a: b'"],
  ["a:b", "k: a:b"],
  ["- a", "k: '- a'"],
  ["-a", "k: -a"],
  ["---", "k: '---'"],
  ["#a", "k: '#a'"],
  ["a #b", "k: 'a #b'"],
  ["a#b", "k: a#b"],
  ["[a]", "k: '[a]'"],
  ["a,b", "k: a,b"],
  ["@a", "k: '@a'"],
  ["*a", "k: '*a'"],
  ["it's", "k: it's"],
  ["'a", "k: '''a'"],
  ['"a', `k: '"a'`],
  [" a", "k: ' a'"],
  ["a ", "k: 'a '"],
  ["a\nb", "k: 'a\n\n  b'"],
  ["a\tb", 'k: "a\\tb"'],
  ["é", "k: é"],
  ["😀", 'k: "\\U0001F600"'], // libyaml escapes characters above U+FFFF
  ["\u0085", 'k: "\\N"'],
  ["x ".repeat(45), "k: 'x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x\n  x x x x x x '"],
]

describe("PyYAML quoting of string values", () => {
  test.each(quoting)("%j", (value, line) => {
    expect(dumpMetaYaml({ k: value })).toBe(`${line}\n`)
  })
})

describe(`every string in the PyYAML ${tables.pyyaml} table (${tables.yaml.length} cases)`, () => {
  test("is written exactly as CSafeDumper writes it", () => {
    const mismatches = tables.yaml
      .map(([key = "", value = "", expected = ""]) => ({ key, value, expected, actual: dumpMetaYaml({ [key]: value }) }))
      .filter((c) => c.actual !== c.expected)
    expect(mismatches).toEqual([])
  })

  test("is read back by the fast reader as PyYAML reads it (U+2028 and NEL as line breaks too)", () => {
    const wrong = tables.yaml.filter(([key = "", value = "", text = ""]) => {
      const flat = parseFlatYaml(text)?.get(key)
      return flat === undefined || flat === "collection" || flat.text !== value
    })
    expect(wrong).toEqual([])
  })

  test("the general parser agrees wherever YAML 1.2 reads like YAML 1.1", () => {
    const yaml11Only = /[\u2028\u2029\u0085]/
    const wrong = tables.yaml
      .filter(([, value = ""]) => !yaml11Only.test(value))
      .filter(([key = "", value = "", text = ""]) => {
        const doc = parseDocument(text, { schema: "failsafe" }).toJS() as Record<string, string>
        return doc[key] !== value
      })
    expect(wrong).toEqual([])
  })
})

describe("files safe_dump does not write go to the general parser", () => {
  test.each([
    ["# comment\nname: x\n", "x"],
    ["name: x # trailing comment\n", "x"],
    ["---\nname: x\n", "x"],
    ["tags:\n  a: b\nname: x\n", "x"],
    ["name: &anchor x\n", "x"],
    ["name: |\n  block\n", "block\n"],
    ["name: x\r\nother: y\r\n", "x"],
  ])("%j", (text, name) => {
    expect(parseFlatYaml(text)).toBeNull()
    expect(metaString(parseMetaYaml(text, "t"), "name")).toBe(name)
  })

  test("while plain, quoted and folded values stay on the fast path", () => {
    const text = "a: -x\nb: '0'\nc: \"q\\tz\"\nd: word word\n  word\ne: []\nf:\ng: 'it''s'\n"
    expect(Object.fromEntries(parseFlatYaml(text) ?? [])).toEqual({
      a: { text: "-x", plain: true },
      b: { text: "0", plain: false },
      c: { text: "q\tz", plain: false },
      d: { text: "word word word", plain: true },
      e: "collection",
      f: { text: "", plain: true },
      g: { text: "it's", plain: false },
    })
  })
})

describe("whole records", () => {
  test("keys are sorted; ints, null and [] are written as Python writes them", () => {
    expect(dumpMetaYaml({ status: 3, end_time: null, tags: [], experiment_id: "0", artifact_uri: "file:///x" })).toBe(
      "artifact_uri: file:///x\nend_time: null\nexperiment_id: '0'\nstatus: 3\ntags: []\n",
    )
  })

  test("refuses a non-integer number (it would read back as a float)", () => {
    expect(() => dumpMetaYaml({ start_time: 1.5 })).toThrow("integer")
  })
})

describe("reading", () => {
  const meta = parseMetaYaml(
    "experiment_id: 0\nname: ''\nend_time: null\nrun_name: 1e3\nstatus: 3\ntags: []\nuser_id: yes\nlong: word word\n  word\n",
    "meta.yaml",
  )

  test.each([
    ["experiment_id", "0"], // 0.x wrote an unquoted int
    ["name", ""],
    ["end_time", null],
    ["run_name", "1e3"], // YAML 1.2 would make this a float; PyYAML keeps the string
    ["user_id", "yes"],
    ["long", "word word word"], // folded continuation lines
    ["tags", null],
    ["missing", undefined],
  ])("%s", (key, value) => {
    expect(metaString(meta, key)).toBe(value as string | null | undefined)
  })

  test("integers", () => {
    expect(metaInt(meta, "status", "meta.yaml")).toBe(3)
    expect(metaInt(meta, "end_time", "meta.yaml")).toBe(null)
    expect(() => metaInt(meta, "long", "meta.yaml")).toThrow("should be a number")
  })

  test.each(["a: [", "- just\n- a list\n", "a: 'unterminated\n"])("corrupt text names the file: %j", (text) => {
    expect(() => parseMetaYaml(text, "/x/meta.yaml")).toThrow("/x/meta.yaml")
  })
})

test.each([
  ["abc", true],
  ["0", false],
  ["0x1F", false],
  ["1_000", false],
  ["1:20", false],
  [".inf", false],
  ["NaN", true], // only .nan is a float in YAML 1.1
  ["on", false],
  ["=", false],
  ["2001-12-14t21:59:43.10-05:00", false],
])("plain %j reads back as a string: %p", (text, expected) => {
  expect(plainReadsAsString(text)).toBe(expected)
})

test("the quick null check reading meta.yaml agrees with PyYAML's resolvers on every table string and near-null", () => {
  const texts = [...tables.yaml.map(([, value]) => value as string), "", "~", "null", "Null", "NULL", "nULL", "nul", "null ", "~~", "0", ".", "<<", "=", "no"]
  const disagreeing = texts.filter((text) => readsAsNull(text) !== (resolvePlain(text) === "null"))
  expect(disagreeing).toEqual([])
  expect([...new Set(texts.filter(readsAsNull))].sort()).toEqual(["", "NULL", "Null", "null", "~"])
})

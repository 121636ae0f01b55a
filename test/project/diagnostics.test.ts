// Located diagnostics beyond MLflow's rules: finding the file, python_env.yaml, entry points and parameters.
import { describe, expect, test } from "bun:test"
import { symlinkSync } from "node:fs"
import { join } from "node:path"
import { inspectProject, loadProject } from "../../src/project/load.ts"
import { brief, loadError, only, project } from "./fixtures.ts"

describe("locating the MLproject file", () => {
  test("several files differing in case: the first in sorted order, with a warning", async () => {
    await using dir = project({ mlproject: "name: lower\n", MLproject: "name: upper\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.name).toBe("upper")
    expect(warnings.map((w) => [w.code, w.message])).toEqual([["project.duplicate_file", "several MLproject files differ only in case (MLproject, mlproject); using MLproject"]])
  })

  test("a symlinked MLproject is followed; a dangling one is an error", async () => {
    await using dir = project({ "real.yaml": "name: linked\n" })
    symlinkSync("real.yaml", join(dir.path, "MLproject"))
    expect(loadProject(dir.path).project.name).toBe("linked")
    await using dangling = project({})
    symlinkSync("gone.yaml", join(dangling.path, "MLproject"))
    const error = loadError(dangling.path)
    expect(error.message).toBe("MLproject is a symbolic link to 'gone.yaml', which does not exist")
  })

  test("a directory named mlproject (a Python package) is skipped with a warning", async () => {
    await using dir = project({ "mlproject/__init__.py": "", "conda.yaml": "name: x\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.file).toBeNull()
    expect(p.env.kind).toBe("conda_env")
    expect(warnings.map((w) => w.code)).toEqual(["project.mlproject_dir"])
  })

  test("a misnamed MLproject.yml is not read (as in MLflow) but pointed out", async () => {
    await using dir = project({ "MLproject.yml": "name: x\n" })
    const { project: p, warnings } = loadProject(dir.path)
    expect(p.file).toBeNull()
    expect(warnings.map((w) => [w.code, w.hint])).toEqual([["project.misnamed", "rename it to MLproject"]])
  })

  test("a git symlink checked out as a file gets a hint", async () => {
    await using dir = project({ mlproject: "src/mlproject" })
    const { diagnostics } = inspectProject(dir.path)
    expect(diagnostics.map((d) => [d.code, d.message, d.hint])).toEqual([
      ["project.not_mapping", "mlproject must be a mapping of keys (name, entry_points, …), but it is a string", "this looks like the text of a symbolic link checked out as a file (Git without symlink support)"],
    ])
  })

  test("a folder that does not exist is a ToolError, not a diagnostic", () => {
    expect(() => inspectProject("/nonexistent/mlproject-test")).toThrow("project folder /nonexistent/mlproject-test does not exist or is not a folder")
  })
})

describe("python_env.yaml problems do not block loading", () => {
  test("python: 3.10 is the float 3.1: an error diagnostic with the fix, but loadProject still succeeds", async () => {
    await using dir = project({ MLproject: "python_env: python_env.yaml\nentry_points:\n  main: {command: python a.py}\n", "python_env.yaml": "python: 3.10\n" })
    const { diagnostics } = inspectProject(dir.path)
    expect(diagnostics).toEqual([
      {
        severity: "error",
        code: "python_env.invalid",
        message: "'python' must be a string, but it is the float 3.1 (only a problem when mlproject builds the environment; --env-manager local still runs)",
        hint: 'quote the version: python: "3.10"',
        file: join(dir.path, "python_env.yaml"),
        line: 1,
        column: 9,
      },
    ])
    expect(loadProject(dir.path).project.entry_points.map((ep) => ep.name)).toEqual(["main"])
  })

  test("the implicit python_env.yaml of the folder conventions is checked too", async () => {
    await using dir = project({ "python_env.yaml": "python: '3.11'\nchannels: [x]\n", "train.py": "" })
    const { diagnostics } = inspectProject(dir.path)
    expect(diagnostics.map((d) => [d.code, d.line, d.column, d.hint])).toEqual([
      ["python_env.invalid", 2, 1, "this looks like a conda environment file: declare it with conda_env: instead of python_env:"],
    ])
  })
})

describe("entry point and parameter diagnostics", () => {
  const load = async (text: string) => {
    await using dir = project({ MLproject: text })
    return inspectProject(dir.path)
  }

  test("an undeclared placeholder breaks only its entry point, located at the placeholder", async () => {
    const { project: p, diagnostics } = await load('entry_points:\n  main:\n    command: "python t.py {data_path}"\n  ok:\n    command: python ok.py\n')
    expect(only(diagnostics, "entry_point.placeholder")).toEqual([
      {
        severity: "error",
        code: "entry_point.placeholder",
        message: "placeholder {data_path} in the command of entry point 'main' is not a declared parameter (declared: none)",
        hint: "declare it under parameters or escape the braces as {{ }}",
        file: expect.stringMatching(/^\/.+\/MLproject$/),
        line: 3,
        column: 27,
        entry_point: "main",
      },
    ])
    expect(p?.entry_points.map((ep) => ep.problems.length)).toEqual([1, 0])
  })

  test("placeholders in a block command are located on their own line", async () => {
    const { diagnostics } = await load("entry_points:\n  main:\n    parameters: {a: int}\n    command: |\n      python t.py {a} \\\n        --b {b}\n")
    expect(only(diagnostics, "entry_point.placeholder").map(brief)).toEqual([["error", "entry_point.placeholder", 6, 13, "main"]])
  })

  test("unbalanced braces and positional fields are entry-point problems", async () => {
    const { diagnostics } = await load('entry_points:\n  a: {command: "echo {x"}\n  b: {command: "echo {0}"}\n  c: {command: "awk \'{{print}}\'"}\n')
    expect(diagnostics.map((d) => [d.code, d.entry_point, d.message])).toEqual([
      ["entry_point.template", "a", "the command of entry point 'a' is not a valid template: expected '}' before end of string"],
      ["entry_point.template", "b", "the command of entry point 'b' is not a valid template: positional placeholder {0}: MLflow fills the command with named parameters only, so Python raises IndexError"],
    ])
  })

  test("a missing command, with the stray command line pointed out (corpus 059)", async () => {
    const { diagnostics } = await load('entry_points:\n  predict:\n    parameters: {a: string}\n  command: "python p.py {a}"\n')
    expect(diagnostics.map((d) => [d.code, d.line, d.column, d.entry_point, d.hint])).toEqual([
      ["entry_point.command", 2, 3, "predict", "the command on line 4 is indented as an entry point of its own: indent it under 'predict'"],
      ["entry_point.invalid", 4, 3, "command", "'command' is indented as an entry point: indent it under the entry point it belongs to"],
    ])
  })

  test("a command that is not a string", async () => {
    const { diagnostics } = await load("entry_points:\n  main:\n    command: [a, b]\n")
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([["entry_point.command", "the command of entry point 'main' must be a string, but it is a list"]])
  })

  test("parameter types: canonical, aliases with a warning, unknown names as strings", async () => {
    const { project: p, diagnostics } = await load(
      "entry_points:\n  main:\n    parameters:\n      a: float\n      b: {type: str, default: x}\n      c: {type: 'list[str]', default: [1, 2]}\n      d: {default: 3}\n      e: {type: Path}\n    command: run\n",
    )
    expect(p?.entry_points[0]?.parameters.map((x) => [x.name, x.type, x.declared_type, x.default, x.location?.line])).toEqual([
      ["a", "float", "float", null, 4],
      ["b", "string", "str", "x", 5],
      ["c", "string", "list[str]", "[1, 2]", 6],
      ["d", "string", "string", "3", 7],
      ["e", "string", "Path", null, 8],
    ])
    expect(diagnostics.map((d) => [d.code, d.line, d.column, d.message, d.hint])).toEqual([
      ["parameter.type", 5, 17, "parameter 'b' has type 'str', read as 'string'", "write type: string"],
      ["parameter.type", 6, 17, "parameter 'c' has type 'list[str]', which MLflow does not know; its value is passed as a string", "use one of string, float, int, bool, path, uri"],
      ["parameter.default", 6, 39, "default of parameter 'c' is a list; the command receives Python's rendering of it: [1, 2]", "quote the default to pass it as written"],
      ["parameter.type", 8, 17, "parameter 'e' has type 'Path', which MLflow does not know; its value is passed as a string", "MLflow only gives path/uri handling to the lower-case name: write type: path"],
    ])
  })

  test("defaults are rendered with Python's str() and odd ones are warned about, never rejected", async () => {
    const { project: p, diagnostics } = await load(
      "entry_points:\n  main:\n    parameters:\n      lr: {type: float, default: 1e-5}\n      x: {type: float, default: 1.0e-3}\n      flag: {type: bool, default: true}\n      n: {type: int, default: None}\n      m: {type: int, default: 010}\n      s: {type: string, default: yes}\n      f: {type: float, default: 1.0}\n      u: {type: uri, default: data}\n    command: run\n",
    )
    expect(p?.entry_points[0]?.parameters.map((x) => [x.name, x.default])).toEqual([
      ["lr", "1e-5"],
      ["x", "0.001"],
      ["flag", "True"],
      ["n", "None"],
      ["m", "8"],
      ["s", "True"],
      ["f", "1.0"],
      ["u", "data"],
    ])
    expect(diagnostics.map((d) => d.message)).toEqual([
      "default None of parameter 'n' is not an int; it is passed as written",
      "default of parameter 'm' is written 010, which YAML 1.1 reads as the integer 8",
      "default of parameter 's' is written yes, which YAML 1.1 reads as a boolean: the command receives True",
      "default data of uri parameter 'u' has no URI scheme: a run that does not set -P u=… fails",
    ])
  })

  test("corpus 002: {type:int, default:10} without spaces is two odd keys, so the parameter is a required string", async () => {
    const { project: p, diagnostics } = await load("entry_points:\n  main:\n    parameters:\n      n-class: {type:int, default:10}\n    command: python t.py --n {n-class}\n")
    expect(p?.entry_points[0]?.parameters.map((x) => [x.name, x.type, x.default])).toEqual([["n-class", "string", null]])
    expect(diagnostics.map((d) => [d.code, d.column, d.hint])).toEqual([
      ["parameter.unknown_key", 17, "add a space after the colon ({type: int, default: 10}): YAML reads 'type:int' as one key, so MLflow sees no type or default"],
      ["parameter.unknown_key", 27, "add a space after the colon ({type: int, default: 10}): YAML reads 'default:10' as one key, so MLflow sees no type or default"],
    ])
  })

  test("description is a common, harmless parameter key; a typo is not", async () => {
    const { diagnostics } = await load("entry_points:\n  main:\n    parameters:\n      a: {type: string, description: the a, defulat: x}\n    command: run {a}\n")
    expect(diagnostics.map((d) => [d.code, d.hint])).toEqual([["parameter.unknown_key", "did you mean 'default'?"]])
  })

  test("duplicate keys warn and the last wins (corpus 055)", async () => {
    const { project: p, diagnostics } = await load("entry_points:\n  main:\n    command: python a.py\n    command: python b.py\n")
    expect(p?.entry_points[0]?.command).toBe("python b.py")
    expect(diagnostics.map(brief)).toEqual([["warning", "yaml.duplicate_key", 4, 5, null]])
  })
})

describe("hostile MLproject files are located errors, fast", () => {
  const cases: Array<[string, string | Uint8Array, string, string]> = [
    ["a 5 MB file", `name: x\n${"#".repeat(5 * 1024 * 1024)}\n`, "yaml.too_large", "MLproject is 5242889 bytes; files over 128 KiB are refused"],
    ["binary garbage", new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00]), "yaml.binary", "unacceptable character #x007F: the file is not YAML text (binary data?)"],
    ["an alias bomb", `a: &a [x,x,x,x,x,x,x,x,x,x]\n${Array.from({ length: 8 }, (_, i) => `${"bcdefghi"[i]}: &${"bcdefghi"[i]} [${Array(10).fill(`*${"abcdefgh"[i]}`).join(",")}]`).join("\n")}\n`, "yaml.aliases", 'YAML aliases expand to more than 100000 values (a "billion laughs" document?)'],
    ["10,000 nested lists", `entry_points: ${"[".repeat(10_000)}${"]".repeat(10_000)}\n`, "yaml.too_deep", "YAML nesting is deeper than 100 levels"],
  ]
  for (const [label, content, code, message] of cases) {
    test(label, async () => {
      await using dir = project({})
      await Bun.write(join(dir.path, "MLproject"), content)
      const start = performance.now()
      const { project: p, diagnostics } = inspectProject(dir.path)
      const error = loadError(dir.path)
      expect(performance.now() - start).toBeLessThan(1000)
      expect(p).toBeNull()
      expect(diagnostics.map((d) => [d.code, d.message, d.file])).toEqual([[code, message, join(dir.path, "MLproject")]])
      expect(error.code).toBe("project.invalid")
      expect(error.message).toBe(message)
      expect(error.location?.line).toBeGreaterThanOrEqual(1)
    })
  }
})

test("names that collide with Object.prototype are plain names", async () => {
  await using dir = project({ MLproject: "entry_points:\n  __proto__:\n    parameters:\n      constructor: {type: constructor, default: x}\n      toString: {type: hasOwnProperty}\n    command: run {constructor} {toString}\n" })
  const { project: p, diagnostics } = inspectProject(dir.path)
  expect(p?.entry_points.map((ep) => [ep.name, ep.parameters.map((x) => [x.name, x.type, x.declared_type])])).toEqual([
    ["__proto__", [["constructor", "string", "constructor"], ["toString", "string", "hasOwnProperty"]]],
  ])
  expect(diagnostics.map((d) => d.code)).toEqual(["parameter.type", "parameter.type"])
  await using tagged = project({ MLproject: "name: !!bool constructor\n" })
  expect(inspectProject(tagged.path).diagnostics.map((d) => d.code)).toEqual(["yaml.value"])
})

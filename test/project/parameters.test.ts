// Parameter resolution and the final command (spec cases 20–36), plus our type checks and the GHSA fix.
import { describe, expect, test } from "bun:test"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { entryPointFor } from "../../src/project/entry-point.ts"
import { loadProject } from "../../src/project/load.ts"
import { resolveParameters } from "../../src/project/parameters.ts"
import type { EntryPoint, ParameterSpec } from "../../src/project/types.ts"
import { tmpdirFor } from "../lib/tmp.ts"
import { exampleProject } from "./fixtures.ts"
import { pythonNumbers } from "./python-tables.ts"
import { thrown as error } from "../lib/caught.ts"

const cwd = "/"
const spec = (name: string, type: ParameterSpec["type"], value: string | null = null): ParameterSpec => ({ name, type, declared_type: type, default: value })
const entryPoint = (command: string, parameters: ParameterSpec[]): EntryPoint => ({ name: "main", command, parameters, script: false, problems: [] })


const withExample = async <T>(fn: (greeter: EntryPoint) => T): Promise<T> => {
  await using dir = tmpdirFor()
  dir.write("MLproject", exampleProject)
  dir.write("conda.yaml", "name: x\n")
  return fn(entryPointFor(loadProject(dir.path).project, "greeter"))
}

const values = (r: ReturnType<typeof resolveParameters>) => Object.fromEntries(r.parameters.map((p) => [p.name, p.value]))
const extras = (r: ReturnType<typeof resolveParameters>) => r.parameters.filter((p) => !p.declared).map((p) => [p.name, p.value])

describe("MLflow's compute_parameters and compute_command", () => {
  test("case 20: shorthand types are required; a mapping without type is a string; default null is required", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "entry_points:\n  main:\n    parameters:\n      p: float\n      q: {default: 1}\n      r: {type: int, default: null}\n    command: run {p} {q} {r}\n")
    const ep = entryPointFor(loadProject(dir.path).project, "main")
    expect(ep.parameters.map((p) => [p.name, p.type, p.default])).toEqual([
      ["p", "float", null],
      ["q", "string", "1"],
      ["r", "int", null],
    ])
    expect(error(() => resolveParameters(ep, [], { cwd })).message).toBe("No value given for missing parameters: 'p', 'r'")
  })

  test("cases 21 and 33: declared values, defaults, and extras appended as --key value", async () => {
    const r = await withExample((ep) => resolveParameters(ep, [["name", "friend"], ["excitement", "10"]], { cwd }))
    expect(values(r)).toEqual({ greeting: "hi", name: "friend", excitement: "10" })
    expect(extras(r)).toEqual([["excitement", "10"]])
    expect(r.command).toBe("python greeter.py hi friend --excitement 10")
    expect(r.parameters.map((p) => [p.name, p.source, p.logged])).toEqual([
      ["greeting", "default", "hi"],
      ["name", "user", "friend"],
      ["excitement", "user", "10"],
    ])
  })

  test("case 22: a user value overrides the default", async () => {
    const r = await withExample((ep) => resolveParameters(ep, [["name", "friend"], ["greeting", "hello"]], { cwd }))
    expect(r.command).toBe("python greeter.py hello friend")
    expect(extras(r)).toEqual([])
  })

  test("cases 23 and 34: every missing parameter is named at once", async () => {
    const e = await withExample((ep) => error(() => resolveParameters(ep, [], { cwd })))
    expect(e.code).toBe("param.missing")
    expect(e.message).toBe("No value given for missing parameters: 'name'")
    expect(e.hint).toBe("pass it with -P name=…")
    const two = error(() => resolveParameters(entryPoint("x {a} {b}", [spec("a", "string"), spec("b", "float")]), [], { cwd }))
    expect([two.message, two.hint]).toEqual(["No value given for missing parameters: 'a', 'b'", "pass them with -P a=… -P b=…"])
  })

  test("an empty value counts as given", () => {
    expect(resolveParameters(entryPoint("x {a}", [spec("a", "string")]), [["a", ""]], { cwd }).command).toBe("x ''")
  })

  describe("case 24: float defaults rendered with str(), overrides, extras, case-sensitive names", () => {
    const ep = entryPoint("train {alpha} {l1_ratio} {l2_ratio} {random_str}", [spec("alpha", "float"), spec("l1_ratio", "float", "0.1"), spec("l2_ratio", "float", "0.0003"), spec("random_str", "string", "hello")])
    test("{} and {beta} are missing alpha", () => {
      expect(error(() => resolveParameters(ep, [], { cwd })).message).toBe("No value given for missing parameters: 'alpha'")
      expect(error(() => resolveParameters(ep, [["beta", "0.004"]], { cwd })).message).toBe("No value given for missing parameters: 'alpha'")
    })
    test("{alpha: 0.004, gamma: 0.89}", () => {
      const r = resolveParameters(ep, [["alpha", "0.004"], ["gamma", "0.89"]], { cwd })
      expect(values(r)).toEqual({ alpha: "0.004", l1_ratio: "0.1", l2_ratio: "0.0003", random_str: "hello", gamma: "0.89" })
      expect(r.command).toBe("train 0.004 0.1 0.0003 hello --gamma 0.89")
    })
    test("{alpha: 0.004, l1_ratio: 0.0008, random_str_2: hello}", () => {
      const r = resolveParameters(ep, [["alpha", "0.004"], ["l1_ratio", "0.0008"], ["random_str_2", "hello"]], { cwd })
      expect(r.command).toBe("train 0.004 0.0008 0.0003 hello --random_str_2 hello")
    })
    test("{alpha: -0.99, random_str: hi}", () => {
      expect(resolveParameters(ep, [["alpha", "-0.99"], ["random_str", "hi"]], { cwd }).command).toBe("train -0.99 0.1 0.0003 hi")
    })
    test("{alpha: 0.77, ALPHA: 0.89}: ALPHA is an extra, with a warning", () => {
      const r = resolveParameters(ep, [["alpha", "0.77"], ["ALPHA", "0.89"]], { cwd })
      expect(r.command).toBe("train 0.77 0.1 0.0003 hello --ALPHA 0.89")
      expect(r.warnings.map((w) => [w.code, w.hint])).toEqual([["param.undeclared", "did you mean -P alpha=…?"]])
    })
  })

  test("cases 25 and 35: values are quoted like shlex.quote, in params and extras; logged raw", async () => {
    const r = await withExample((ep) => resolveParameters(ep, [["name", "friend; echo 'hi'"], ["x", "a b"]], { cwd }))
    expect(r.command).toBe(`python greeter.py hi 'friend; echo '"'"'hi'"'"'' --x 'a b'`)
    expect(r.parameters.map((p) => p.logged)).toEqual(["hi", "friend; echo 'hi'", "a b"])
  })

  describe("cases 26–31: path and uri", () => {
    const pathEp = entryPoint("cat {data}", [spec("data", "path")])
    const uriEp = entryPoint("curl {uri}", [spec("uri", "uri")])

    test("case 28: an existing local file, as a plain relative path or a file: URI, becomes absolute", async () => {
      await using dir = tmpdirFor()
      dir.write("data/x y.csv", "1\n")
      const rel = resolveParameters(pathEp, [["data", "data/x y.csv"]], { cwd: dir.path })
      expect(rel.parameters[0]).toEqual({ name: "data", type: "path", declared: true, value: join(dir.path, "data/x y.csv"), logged: "data/x y.csv", source: "user" })
      expect(rel.command).toBe(`cat '${dir.path}/data/x y.csv'`)
      const uri = resolveParameters(pathEp, [["data", `file://${dir.path}/data/x%20y.csv`]], { cwd })
      expect(uri.parameters[0]?.value).toBe(join(dir.path, "data/x y.csv"))
      mkdirSync(join(dir.path, "sub"))
      expect(resolveParameters(pathEp, [["data", "../data"]], { cwd: join(dir.path, "sub") }).parameters[0]?.value).toBe(join(dir.path, "data"))
    })

    test("case 29: a local path that does not exist", () => {
      const e = error(() => resolveParameters(pathEp, [["data", "nope.csv"]], { cwd: "/tmp" }))
      expect(e.code).toBe("param.not_found")
      expect(e.message).toBe("Got value nope.csv for parameter data, but no such file or directory was found.")
      expect(e.hint).toBe("relative paths are read from the current directory (/tmp)")
    })

    test("cases 26, 27 and 30: remote paths (s3, gs, dbfs, http, a remote default) are kept for the download step, refused elsewhere", () => {
      for (const value of ["s3://bucket/data.csv", "gs://b/k", "dbfs:/x", "https://example.com/x.csv", "file://host/x"]) {
        const kept = resolveParameters(pathEp, [["data", value]], { cwd, remotePaths: "keep" })
        expect(kept.parameters[0]).toMatchObject({ name: "data", value, logged: value })
        const e = error(() => resolveParameters(pathEp, [["data", value]], { cwd }))
        expect(e.code).toBe("param.remote_unsupported")
        expect(e.message).toBe(`parameter 'data' is the remote path ${value}, which is only downloaded by 'mlproject run'`)
      }
      const remoteDefault = entryPoint("cat {data}", [spec("data", "path", "s3://b/data_file.csv")])
      expect(error(() => resolveParameters(remoteDefault, [], { cwd })).code).toBe("param.remote_unsupported")
      expect(resolveParameters(remoteDefault, [], { cwd, remotePaths: "keep" }).command).toBe("cat s3://b/data_file.csv")
    })

    test("case 26: a uri default is passed unchanged; the user overrides it; unknown names are extras", () => {
      const ep = entryPoint("run {constants}", [spec("constants", "uri", "s3://path.test/b1")])
      expect(resolveParameters(ep, [], { cwd }).command).toBe("run s3://path.test/b1")
      expect(resolveParameters(ep, [["constants", "s3://other/b2"], ["alpha", "1"]], { cwd }).command).toBe("run s3://other/b2 --alpha 1")
    })

    test("case 31: a uri needs a scheme", () => {
      expect(resolveParameters(uriEp, [["uri", "file:///tmp"]], { cwd }).command).toBe("curl file:///tmp")
      const e = error(() => resolveParameters(uriEp, [["uri", "/tmp/x"]], { cwd }))
      expect([e.code, e.message]).toEqual(["param.invalid", "Expected URI for parameter uri but got /tmp/x"])
      expect(error(() => resolveParameters(entryPoint("x {u}", [spec("u", "uri", "data")]), [], { cwd })).message).toBe("Expected URI for parameter u but got data")
    })
  })

  test("case 32 (deliberately changed): user float and int values are checked, bool and string are not", () => {
    const ep = entryPoint("x {f} {i} {b} {s}", [spec("f", "float"), spec("i", "int"), spec("b", "bool"), spec("s", "string")])
    const ok = resolveParameters(ep, [["f", " 1e-5 "], ["i", "1_000"], ["b", "maybe"], ["s", "anything"]], { cwd })
    expect(ok.command).toBe("x ' 1e-5 ' 1_000 maybe anything")
    const f = error(() => resolveParameters(ep, [["f", "abc"], ["i", "1"], ["b", "x"], ["s", "x"]], { cwd }))
    expect([f.code, f.message, f.hint]).toEqual(["param.invalid", "parameter 'f' expects a float but got 'abc'", "pass a number, e.g. -P f=0.5"])
    const i = error(() => resolveParameters(ep, [["f", "1"], ["i", "1.5"], ["b", "x"], ["s", "x"]], { cwd }))
    expect(i.message).toBe("parameter 'i' expects an int but got '1.5'")
    // Defaults are passed as written: MLflow's own examples declare {type: int, default: None}.
    const sentinel = entryPoint("x {d}", [{ name: "d", type: "int", declared_type: "int", default: "None" }])
    expect(resolveParameters(sentinel, [], { cwd }).command).toBe("x None")
  })

  describe("Python float() and int() syntax", () => {
    for (const [text, float, int] of pythonNumbers) {
      test(`${JSON.stringify(text)}: float ${float}, int ${int}`, () => {
        const ep = entryPoint("x {f} {i}", [spec("f", "float", "0"), spec("i", "int", "0")])
        const run = (name: string) => () => resolveParameters(ep, [[name, text]], { cwd })
        if (float) expect(run("f")).not.toThrow()
        else expect(run("f")).toThrow(`parameter 'f' expects a float but got '${text}'`)
        if (int) expect(run("i")).not.toThrow()
        else expect(run("i")).toThrow(`parameter 'i' expects an int but got '${text}'`)
      })
    }
  })

  describe("case 36: the command is filled like str.format", () => {
    test("{{ }} are literal braces; hyphenated names work", () => {
      const ep = entryPoint("awk '{{print $1}}' {batch-size} {name}|", [spec("batch-size", "int", "32"), spec("name", "string", "a b")])
      expect(resolveParameters(ep, [], { cwd }).command).toBe("awk '{print $1}' 32 'a b'|")
    })
    test("a conversion or format spec never reaches the command, whatever the entry point says", () => {
      for (const command of ["echo {a!r}", "echo {a!s}", "echo {a:.3}", "echo {a:>999999999999}"]) {
        const e = error(() => resolveParameters(entryPoint(command, [spec("a", "string", "x")]), [["a", "$(touch /tmp/x)"]], { cwd }))
        expect(e.code).toBe("entry_point.invalid")
        expect(e.message).toContain("mlproject refuses")
      }
    })
    test("an undeclared placeholder cannot run (MLflow raises KeyError)", () => {
      const e = error(() => resolveParameters(entryPoint("x {nope}", []), [], { cwd }))
      expect([e.code, e.message]).toEqual(["entry_point.invalid", "entry point 'main' cannot run: placeholder {nope} is not a declared parameter"])
    })
  })

  describe("extra parameter names (GHSA-p2gf-345f-mhmm: command injection through the key)", () => {
    test("letters, digits, '_', '.' and '-' pass; anything else is refused", () => {
      const ep = entryPoint("python t.py", [])
      expect(resolveParameters(ep, [["main.steps", "a,b"], ["lr-2", "1"], ["A_b", "x y"]], { cwd }).command).toBe("python t.py --main.steps a,b --lr-2 1 --A_b 'x y'")
      for (const key of ["x; rm -rf ~", "a b", "$(id)", "a=b", "é", ""]) {
        const e = error(() => resolveParameters(ep, [[key, "1"]], { cwd }))
        expect(e.code).toBe("param.invalid_name")
        expect(e.message).toBe(`parameter name '${key}' is not declared by entry point 'main' and cannot be passed as --${key}: undeclared names may only use letters, digits, '_', '.' and '-'`)
      }
    })
    test("a declared name with other characters is fine: it is never written into the command", () => {
      expect(resolveParameters(entryPoint("x {a b}", [spec("a b", "string")]), [["a b", "1"]], { cwd }).command).toBe("x 1")
    })
  })

  test("a repeated name is refused", () => {
    expect(error(() => resolveParameters(entryPoint("x", []), [["a", "1"], ["a", "2"]], { cwd })).message).toBe("Repeated parameter: 'a'")
  })

  test("script entry points take every -P as an extra", async () => {
    await using dir = tmpdirFor()
    dir.write("train.py", "")
    const ep = entryPointFor(loadProject(dir.path).project, "train.py")
    expect(resolveParameters(ep, [["alpha", "0.5"], ["foo", "a b"]], { cwd }).command).toBe("python train.py --alpha 0.5 --foo 'a b'")
  })
})

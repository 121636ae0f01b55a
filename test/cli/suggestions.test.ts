// What a new user trips over, through the binary: "did you mean …?" for options, commands, entry points, -P names, -A keys, MLproject keys.
import { describe, expect, test } from "bun:test"
import { existsSync } from "node:fs"
import { join, resolve } from "node:path"
import { closest, editDistance } from "../../src/util/closest.ts"
import { cli } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const example = resolve(import.meta.dir, "..", "..", "examples", "hello")

describe("the suggestion rule", () => {
  test.each([
    ["shuot", "shout", 1],
    ["alph", "alpha", 1],
    ["entrypoint", "entry-point", 1],
    ["kitten", "sitting", 3],
    ["", "abc", 3],
  ])("edit distance %p → %p is %p (a swap of neighbours is one edit)", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance)
  })

  test.each([
    ["alph", ["epochs", "alpha", "greeting"], "alpha"],
    ["ALPHA", ["alpha"], "alpha"],
    ["l1-ratio", ["l1_ratio"], "l1_ratio"],
    ["lr", ["learning_rate", "alpha"], undefined],
    ["xyz", ["main", "shout"], undefined],
    ["main", ["main"], undefined],
    ["tain", ["train", "main"], "train"],
  ] as Array<[string, string[], string | undefined]>)("closest(%p, %p) is %p", (name, candidates, expected) => {
    expect(closest(name, candidates)).toBe(expected)
  })
})

describe("usage errors suggest the nearest name (exit 2)", () => {
  test.each([
    [["run", example, "--entrypoint", "main"], "unknown option '--entrypoint'", "did you mean '--entry-point'?"],
    [["run", example, "--dryrun"], "unknown option '--dryrun'", "did you mean '--dry-run'?"],
    [["rnu", example], "unknown command 'rnu'", "did you mean 'run'?"],
    [["run", example, "-e", "shuot"], "Could not find shuot among entry points", "did you mean -e shout?"],
    [["run", example, "-e", "trian.py"], "script entry point trian.py does not exist", "did you mean -e train.py?"],
    [["run", example, "-e", "shout", "-P", "txt=hi"], "No value given for missing parameters: 'text'", "did you mean -P text=… (you gave -P txt=…)?"],
    [["run", example, "--env-manager", "virtualenvs"], "Invalid value for `env_manager`: virtualenvs", "did you mean --env-manager virtualenv?"],
    [["run", example, "--fetcher", "tarbal"], "--fetcher tarbal: expected auto, git or tarball", "did you mean --fetcher tarball?"],
    [["run", example, "-b", "locl"], "unknown backend 'locl': expected local, kubernetes or databricks", "did you mean -b local?"],
    [["describe", example, "-e", "shuot", "-P", "text=x"], "Could not find shuot", "did you mean -e shout?"],
  ])("%p", async (args, message, hint) => {
    await using dir = tmpdirFor()
    const result = await cli([...args, "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    const error = result.events.at(-1) as Record<string, string>
    expect(error.type).toBe("error")
    expect(error.message).toContain(message)
    expect(error.hint).toStartWith(hint)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })

  test("a name that is nothing like a known one gets no guess", async () => {
    for (const args of [
      ["run", example, "--frobnicate"],
      ["frobnicate"],
      ["run", example, "-e", "nothing-like-it"],
      ["run", example, "--env-manager", "pip"],
    ]) {
      const result = await cli([...args, "--json"])
      expect(result.code).toBe(2)
      expect(String((result.events.at(-1) as Record<string, string>).hint ?? "")).not.toContain("did you mean")
    }
  })

  test("the text view shows the suggestion as the hint", async () => {
    const result = await cli(["run", example, "--entrypoint", "main"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("error: unknown option '--entrypoint' for 'mlproject run'\n  hint: did you mean '--entry-point'? see 'mlproject run --help'")
  })
})

describe("an undeclared -P name close to a declared one runs, with a warning", () => {
  test("-P alph=0.1 is passed on as --alph, as MLflow does, and the warning names alpha", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "-P", "alph=0.1", "--dry-run", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const warning = result.events.find((e) => e.type === "warning") as Record<string, string>
    expect(warning).toMatchObject({ code: "param.undeclared", hint: "did you mean -P alpha=…?" })
    expect(warning.message).toBe("parameter 'alph' is not declared by entry point 'main'; it is passed as --alph and 'alpha' keeps its default")
    const planned = result.events.find((e) => e.type === "run.planned") as Record<string, string>
    expect(planned.command).toBe("python3 train.py --alpha 0.5 --epochs 3 --greeting 'hello world' --alph 0.1")
  })

  test("the text view prints it on stderr; a far-off extra name (a real extra) warns nothing", async () => {
    const typo = await cli(["run", example, "-P", "epoch=2", "--dry-run"])
    expect(typo.code).toBe(0)
    expect(typo.stderr).toContain("warning: parameter 'epoch' is not declared by entry point 'main'; it is passed as --epoch and 'epochs' keeps its default\n  hint: did you mean -P epochs=…?")
    const extra = await cli(["run", example, "-P", "batch_size=32", "--dry-run", "--json"])
    expect(extra.code).toBe(0)
    expect(extra.events.filter((e) => e.type === "warning")).toEqual([])
  })
})

describe("-A keys of a docker project", () => {
  test("an unknown key names the nearest one, before anything runs (no daemon needed for a dry run)", async () => {
    await using dir = tmpdirFor()
    dir.write("p/MLproject", "name: bars-py\ndocker_env:\n  image: bars-py:2\nentry_points:\n  main:\n    command: 'true'\n")
    const result = await cli(["run", "p", "-A", "shmsize=1g", "--dry-run", "--json"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.events.at(-1)).toMatchObject({ type: "error", code: "docker.args", message: "unsupported docker argument: -A shmsize", hint: expect.stringMatching(/^did you mean -A shm-size\? supported: /) })
  })
})

describe("unknown keys in MLproject are warnings that suggest the key meant", () => {
  test("validate: entry_point, comand and parameter are each warned, located, with the key they are close to", async () => {
    await using dir = tmpdirFor()
    dir.write(
      "MLproject",
      "name: typos\nentry_point:\n  x: 1\nentry_points:\n  main:\n    parameter:\n      a: {type: string, default: x}\n    comand: echo hi\n    command: echo hi\n",
    )
    const result = await cli(["validate", dir.path, "--json"])
    expect(result.code).toBe(0)
    const validated = result.events.find((e) => e.type === "project.validated") as unknown as { diagnostics: Array<Record<string, unknown>> }
    expect(validated.diagnostics.map((d) => [d.code, d.line, String(d.hint).split("?")[0]])).toEqual([
      ["project.unknown_key", 2, "did you mean 'entry_points'"],
      ["entry_point.unknown_key", 6, "did you mean 'parameters'"],
      ["entry_point.unknown_key", 8, "did you mean 'command'"],
    ])
  })
})

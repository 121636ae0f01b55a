// The compiled binary's command line: version, help, usage errors, unsupported flags, validate, describe, dry run.
import { describe, expect, test } from "bun:test"
import { existsSync, readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { cli } from "../lib/cli.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const example = resolve(import.meta.dir, "..", "..", "examples", "hello")

describe("version and help", () => {
  test("--version prints the injected version", async () => {
    const result = await cli(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^mlproject \d+\.\d+\.\d+/)
  })

  test.each(["run", "validate", "describe", "env", "cache", "runs", "status", "wait", "cancel", "logs", "sweep", "pack", "migrate-store", "log"])("%s --help lists its options", async (command) => {
    const result = await cli([command, "--help"])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatchSnapshot()
  })

  test("top-level help names every command", async () => {
    const result = await cli(["--help"])
    expect(result.code).toBe(0)
    for (const command of ["run", "validate", "describe"]) expect(result.stdout).toContain(`  ${command} [URI]`)
    for (const command of ["env list|gc", "cache list|gc"]) expect(result.stdout).toContain(`  ${command}  `)
  })
})

describe("usage errors exit 2 and name the offending argument", () => {
  test.each([
    [["frobnicate"], "unknown command 'frobnicate'"],
    [["run", example, "--frobnicate"], "unknown option '--frobnicate'"],
    [["run", example, "-P", "alpha"], "Invalid format for -P parameter: 'alpha'. Use -P name=value."],
    [["run", example, "-P", "alpha=1", "-P", "alpha=2"], "Repeated parameter: 'alpha'"],
    [["run", example, "--experiment-name", "x", "--experiment-id", "1"], "Specify only one of 'experiment-name' or 'experiment-id' options."],
    [["run", example, "--env-manager", "pip"], "Invalid value for `env_manager`: pip"],
    [["run", example, "--grace", "soon"], "--grace soon: expected a number of seconds"],
    [["run", example, "-P", "epochs=1.5"], "epochs"],
    [["run", example, "-e", "nope.txt"], "Could not find nope.txt among entry points"],
  ])("%p", async (args, message) => {
    const result = await cli(args)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(result.stderr).not.toContain("    at ")
  })

  test("with --json the error is an event on stdout and nothing else is printed", async () => {
    const result = await cli(["run", example, "--json", "--frobnicate"])
    expect(result.code).toBe(2)
    expect(result.events).toEqual([expect.objectContaining({ type: "error", code: "usage", message: expect.stringContaining("--frobnicate") })])
    expect(result.stderr).toBe("")
  })

  test("experiment flags count their environment variables too", async () => {
    const result = await cli(["run", example, "--experiment-id", "1"], { env: { MLFLOW_EXPERIMENT_NAME: "x" } })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Specify only one of")
  })
})

describe("remote backends without their config, and unsupported versions, answer clearly", () => {
  test.each([
    [["-b", "kubernetes"], "error: Backend_config file not found."],
    [["-b", "databricks"], "error: Backend spec must be provided when launching MLflow project runs on Databricks."],
  ])("%p", async (args, message) => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, ...args], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })

  test("--version on a folder outside Git says why", async () => {
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "entry_points:\n  main:\n    command: 'true'\n")
    const result = await cli(["run", "project", "-v", "main"], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("Setting a version is only supported for Git project URIs")
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })
})

describe("validate and describe", () => {
  test("validate of the example project is clean", async () => {
    const result = await cli(["validate", example])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("valid")
  })

  test("validate lists every error with file:line and exits 2; --strict fails on warnings", async () => {
    await using dir = tmpdirFor()
    dir.write("MLproject", "name: x\nentry_points:\n  main:\n    parameters:\n      a: {type: flaot}\n    command: echo {a}\n")
    const relaxed = await cli(["validate", dir.path, "--json"])
    expect(relaxed.code).toBe(0)
    const validated = relaxed.events.find((e) => e.type === "project.validated") as Record<string, unknown>
    expect(validated.warnings).toBeGreaterThan(0)
    expect(JSON.stringify(validated.diagnostics)).toContain("flaot")
    const strict = await cli(["validate", dir.path, "--strict"])
    expect(strict.code).toBe(2)
    expect(strict.stdout).toContain("MLproject:5:")
  })

  // A file where the path needs a folder (ENOTDIR) ended these with "internal error", exit 1.
  test.each([["describe"], ["run"]])("%s of a path under a file says the folder does not exist, exit 2", async (command) => {
    await using dir = tmpdirFor()
    dir.write("notes.txt", "")
    const result = await cli([command, join(dir.path, "notes.txt", "x")], { cwd: dir.path })
    expect(result.stderr).toContain(`project folder '${join(dir.path, "notes.txt", "x")}' does not exist`)
    expect(result.code).toBe(2)
  })

  test("describe shows entry points, types, defaults and, with -P, the resolved command", async () => {
    const text = await cli(["describe", example])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain("alpha: float, default 0.5")
    expect(text.stdout).toContain("text: string, required")
    const json = await cli(["describe", example, "-P", "greeting=it's", "--json"])
    const described = json.events.find((e) => e.type === "project.described") as Record<string, unknown>
    expect(described.resolved).toEqual({
      entry_point: "main",
      command: `python3 train.py --alpha 0.5 --epochs 3 --greeting 'it'"'"'s'`,
    })
  })
})

describe("run --dry-run", () => {
  test("prints the exact command, directory and variables, and creates nothing", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "--dry-run", "--json", "-P", "alpha=0.1", "-P", "extra=a b"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const planned = result.events.find((e) => e.type === "run.planned") as Record<string, unknown>
    expect(planned.command).toBe("python3 train.py --alpha 0.1 --epochs 3 --greeting 'hello world' --extra 'a b'")
    expect(planned.cwd).toBe(example)
    expect(planned.env).toMatchObject({ MLFLOW_TRACKING_URI: `file://${dir.path}/mlruns`, MLFLOW_ALLOW_FILE_STORE: "true" })
    expect(readdirSync(dir.path)).toEqual([])
  })
})

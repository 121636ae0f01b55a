// What a run sees of the machine: the running binary on PATH, pyenv without HOME, getpass's user, absolute source names.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { binary, cli } from "../lib/cli.ts"
import { dockerSkipReason, skipDocker, testImage } from "../lib/docker.ts"
import { readRun, runIds } from "../lib/mlruns.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const project = (dir: TmpDir, command: string, extra = "") =>
  dir.write("project/MLproject", `name: machine\n${extra}entry_points:\n  main:\n    command: ${JSON.stringify(command)}\n`)

const onlyRun = (dir: TmpDir) => {
  const mlruns = join(dir.path, "mlruns")
  const [id] = runIds(mlruns, "0")
  return readRun(mlruns, "0", id as string)
}

const stdout = (result: Awaited<ReturnType<typeof cli>>) => result.events.filter((e) => e.type === "log" && e.stream === "stdout").map((e) => e.line)

/** The passwd entry of this uid, read independently of the code under test. */
const passwd = (() => {
  const uid = process.getuid?.() ?? -1
  const line = readFileSync("/etc/passwd", "utf8").split("\n").find((l) => Number(l.split(":")[2]) === uid && l.split(":")[2] !== "")
  const [name, , , , , home] = line?.split(":") ?? []
  return { name: name ?? null, home: home ?? null }
})()

describe("the entry point's view of mlproject", () => {
  test("`mlproject log` works without mlproject on PATH; MLPROJECT_BIN names the running binary; nothing else is shadowed", async () => {
    await using dir = tmpdirFor()
    project(dir, 'mlproject log metric loss 0.25 --step 3 && mlproject log param from_entry yes && echo "$MLPROJECT_BIN" && ls "$(dirname "$(command -v mlproject)")"')
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env: { PATH: "/usr/bin:/bin" } })
    expect(result.code).toBe(0)
    expect(stdout(result)).toEqual([binary, "mlproject"])
    const run = onlyRun(dir)
    expect(run.params.from_entry).toBe("yes")
    expect(run.metrics.loss).toMatch(/^\d+ 0\.25 3\n$/)
  })
})

describe("the recorded user (getpass.getuser order)", () => {
  const cases: Array<[string, Record<string, string | undefined>, string | null]> = [
    ["LOGNAME first", { LOGNAME: "alice", USER: "bob", LNAME: "carol", USERNAME: "dave" }, "alice"],
    ["then USER", { LOGNAME: undefined, USER: "bob", LNAME: "carol", USERNAME: "dave" }, "bob"],
    ["then LNAME", { LOGNAME: undefined, USER: undefined, LNAME: "carol", USERNAME: "dave" }, "carol"],
    ["then USERNAME", { LOGNAME: undefined, USER: undefined, LNAME: undefined, USERNAME: "dave" }, "dave"],
    ["then the passwd entry of the uid, even without HOME", { LOGNAME: undefined, USER: undefined, LNAME: undefined, USERNAME: undefined, HOME: undefined }, passwd.name],
  ]
  test.each(cases)("%s", async (_, env, expected) => {
    await using dir = tmpdirFor()
    project(dir, "true")
    const result = await cli(["run", "project", "--json"], { cwd: dir.path, env })
    expect(result.code).toBe(0)
    const run = onlyRun(dir)
    expect(run.tags["mlflow.user"]).toBe(expected ?? "unknown")
    expect(run.meta.user_id).toBe(expected ?? "unknown")
  })
})

describe("where things are found", () => {
  const pyenvVersions = passwd.home ? join(passwd.home, ".pyenv", "versions") : null
  const version = pyenvVersions && existsSync(join(pyenvVersions, "3.10.13")) ? "3.10.13" : null
  test.skipIf(version === null)("pyenv is found in the passwd home when HOME and PYENV_ROOT are unset", async () => {
    await using dir = tmpdirFor()
    project(dir, "python --version", "python_env: python_env.yaml\n")
    dir.write("project/python_env.yaml", `python: "${version}"\n`)
    const result = await cli(["run", "project", "--dry-run", "--json"], { cwd: dir.path, env: { HOME: undefined, PYENV_ROOT: undefined, PATH: "/usr/bin:/bin" } })
    expect(result.events.find((e) => e.type === "error")).toBeUndefined()
    expect(result.code).toBe(0)
  })

  test("an archive given as a relative path is recorded with its absolute path, #subdir kept", async () => {
    await using dir = tmpdirFor()
    dir.write("src/proj/inner/MLproject", "name: arc\nentry_points:\n  main:\n    command: 'true'\n")
    const tar = Bun.spawnSync(["tar", "czf", join(dir.path, "proj.tar.gz"), "-C", join(dir.path, "src"), "proj"])
    expect(tar.exitCode).toBe(0)
    expect((await cli(["run", "proj.tar.gz#proj/inner", "--json"], { cwd: dir.path })).code).toBe(0)
    expect(onlyRun(dir).tags["mlflow.source.name"]).toBe(`${join(dir.path, "proj.tar.gz")}#proj/inner`)
  })
})

describe.skipIf(skipDocker)("inside a docker container", () => {
  if (skipDocker) test.skip(dockerSkipReason, () => {})
  test("the binary is mounted read-only and on PATH: `mlproject log` reaches the run from the container", async () => {
    await using dir = tmpdirFor()
    const image = await testImage()
    project(dir, 'mlproject log param in_container yes && echo "$MLPROJECT_BIN" && (touch "$MLPROJECT_BIN" 2>/dev/null && echo writable || echo read-only)', `docker_env:\n  image: ${image}\n`)
    const result = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(stdout(result)).toEqual(["/mlflow/bin/mlproject", "read-only"])
    expect(onlyRun(dir).params.in_container).toBe("yes")
  }, 120_000)
})

describe("the experiment the entry point sees", () => {
  test("MLFLOW_EXPERIMENT_ID names it; an inherited MLFLOW_EXPERIMENT_NAME that would contradict it is not passed on", async () => {
    await using dir = tmpdirFor()
    project(dir, "printenv MLFLOW_EXPERIMENT_NAME || echo no-name; echo id=$MLFLOW_EXPERIMENT_ID")
    const result = await cli(["run", "project", "--experiment-name", "chosen", "--json"], { cwd: dir.path, env: { MLFLOW_EXPERIMENT_NAME: undefined } })
    const id = result.events.find((e) => e.type === "run.created")?.experiment_id
    // The user's shell names the experiment; the entry point gets its id only, so a nested run sees one choice.
    const inherited = await cli(["run", "project", "--json"], { cwd: dir.path, env: { MLFLOW_EXPERIMENT_NAME: "chosen" } })
    expect(inherited.code).toBe(0)
    expect(stdout(inherited)).toEqual(["no-name", `id=${id}`])
  })
})

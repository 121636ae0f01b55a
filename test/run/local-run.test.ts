// End to end with the compiled binary: a local run recorded in ./mlruns exactly as MLflow records it.
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, readdirSync } from "node:fs"
import { join, resolve } from "node:path"
import { parse } from "yaml"
import { cli, requireBinary } from "../lib/cli.ts"
import { experiments, readRun, runIds } from "../lib/mlruns.ts"
import { corpusDir, hasShared, sharedSkipReason } from "../lib/shared.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const example = resolve(import.meta.dir, "..", "..", "examples", "hello")
const finished = (events: Array<Record<string, unknown>>) => events.find((e) => e.type === "run.finished") as Record<string, unknown>
const logLines = (events: Array<Record<string, unknown>>, stream = "stdout") =>
  events.filter((e) => e.type === "log" && e.stream === stream).map((e) => e.line as string)

/** A real MLflow-written PROJECT run (MLflow 2.x, the key set we write). */
const corpusProjectRun = () => {
  const base = join(corpusDir("mlruns"), "05__DrunkTeam__ApartmentPrice", "mlruns")
  return readRun(base, "0", "183349fa556d47ec8b0b54c47a597115")
}

describe("a local run", () => {
  test("is recorded as a complete MLflow-layout run", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "-P", "alpha=0.25", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const done = finished(result.events)
    expect(done).toMatchObject({ status: "FINISHED", exit_code: 0, experiment_id: "0" })
    const runId = done.run_id as string
    expect(runId).toMatch(/^[0-9a-f]{32}$/)
    expect(logLines(result.events)).toContain("epoch 1: loss=0.7788")
    expect(logLines(result.events).at(-1)).toBe(`MLflow run ${runId} in experiment 0`)

    const mlruns = join(dir.path, "mlruns")
    expect(existsSync(join(mlruns, ".trash"))).toBe(true)
    expect(experiments(mlruns)).toEqual([{ id: "0", meta: expect.objectContaining({ name: "Default", lifecycle_stage: "active" }) }])
    const run = readRun(mlruns, "0", runId)
    expect(run.meta).toMatchObject({
      run_id: runId,
      run_uuid: runId,
      experiment_id: "0",
      status: 3,
      source_type: 4,
      lifecycle_stage: "active",
      entry_point_name: "",
      source_name: "",
      source_version: "",
      tags: [],
      artifact_uri: `file://${mlruns}/0/${runId}/artifacts`,
    })
    expect(run.meta.end_time as number).toBeGreaterThanOrEqual(run.meta.start_time as number)
    expect(run.params).toEqual({ alpha: "0.25", epochs: "3", greeting: "hello world" })
    expect(run.tags).toMatchObject({
      "mlflow.source.type": "PROJECT",
      "mlflow.project.entryPoint": "main",
      "mlflow.project.backend": "local",
      "mlflow.runName": run.meta.run_name as string,
    })
    expect(run.tags["mlflow.source.name"]).toStartWith("file://")
    expect(run.tags).not.toHaveProperty("mlflow.project.env")
    expect(run.meta.run_name as string).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/)
  })

  test.skipIf(!hasShared)(`matches a real MLflow-written PROJECT run key by key and type by type (${hasShared ? "corpus" : sharedSkipReason})`, async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "--json"], { cwd: dir.path })
    const ours = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    const theirs = corpusProjectRun()
    expect(Object.keys(ours.meta)).toEqual(Object.keys(theirs.meta))
    const typeOf = (value: unknown) => (value === null ? "null" : Array.isArray(value) ? "array" : typeof value)
    for (const key of Object.keys(theirs.meta)) {
      if (key === "end_time") continue // null in the corpus run only because it crashed while RUNNING
      expect(`${key}: ${typeOf(ours.meta[key])}`).toBe(`${key}: ${typeOf(theirs.meta[key])}`)
    }
    // Quoting styles as PyYAML writes them.
    expect(ours.metaText).toContain("experiment_id: '0'\n")
    expect(ours.metaText).toContain("entry_point_name: ''\n")
    expect(ours.metaText.endsWith("\n")).toBe(true)
    const theirTags = Object.keys(theirs.tags).filter((k) => !k.includes("git"))
    for (const key of theirTags) expect(Object.keys(ours.tags)).toContain(key)
    for (const value of [...Object.values(ours.params), ...Object.values(ours.tags)]) expect(value.endsWith("\n")).toBe(false)
  })

  const hostile = [
    ["quote", "it's"],
    ["double", 'say "hi"'],
    ["subshell", "$(touch pwned)"],
    ["backticks", "`touch pwned`"],
    ["semicolon", "a; touch pwned"],
    ["and", "a && touch pwned"],
    ["newline", "line1\nline2"],
    ["spaces", "  padded  value  "],
    ["empty", ""],
    ["unicode", "naïve ☃ 日本語"],
    ["dollar", "$HOME ${PATH}"],
    ["glob", "*"],
  ] as const

  test("parameters reach the program as exact argv strings and are logged raw", async () => {
    await using dir = tmpdirFor()
    const declared = hostile.map(([name]) => `      ${name}: string`).join("\n")
    const placeholders = hostile.map(([name]) => `{${name}}`).join(" ")
    dir.write(
      "project/MLproject",
      `name: hostile\nentry_points:\n  main:\n    parameters:\n${declared}\n    command: "python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' ${placeholders}"\n`,
    )
    const args = hostile.flatMap(([name, value]) => ["-P", `${name}=${value}`])
    const result = await cli(["run", "project", ...args, "-P", "extra_key=a'b $(x)", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const printed = JSON.parse(logLines(result.events)[0] as string) as string[]
    expect(printed).toEqual([...hostile.map(([, value]) => value), "--extra_key", "a'b $(x)"])
    expect(existsSync(join(dir.path, "project", "pwned"))).toBe(false)
    const run = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    for (const [name, value] of hostile) expect(run.params[name]).toBe(value)
    expect(run.params.extra_key).toBe("a'b $(x)")
  })

  test("a path parameter arrives absolute, resolved against the current directory", async () => {
    await using dir = tmpdirFor()
    dir.write("data/train.csv", "x\n")
    dir.write("project/MLproject", "entry_points:\n  main:\n    parameters:\n      data: path\n    command: echo {data}\n")
    const result = await cli(["run", "project", "-P", "data=data/train.csv", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(logLines(result.events)).toEqual([join(dir.path, "data", "train.csv")])
    const run = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    expect(run.params.data).toBe("data/train.csv")
  })

  test.each([
    [["-P", "alpha=fast"], "alpha"],
    [["-e", "shout"], "No value given for missing parameters: 'text'"],
    [["-P", "bad key=1"], "bad key"],
  ])("%p exits 2 and creates no run", async (args, message) => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, ...args], { cwd: dir.path })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(existsSync(join(dir.path, "mlruns"))).toBe(false)
  })

  test("a failing entry point is FAILED, exits 1 and reports its own exit code", async () => {
    await using dir = tmpdirFor()
    dir.write("project/MLproject", "entry_points:\n  main:\n    command: 'echo oops >&2; exit 3'\n")
    const result = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(result.code).toBe(1)
    expect(finished(result.events)).toMatchObject({ status: "FAILED", exit_code: 3 })
    expect(logLines(result.events, "stderr")).toEqual(["oops"])
    const run = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    expect(run.meta.status).toBe(4)
  })

  test("a status the program set itself is respected", async () => {
    await using dir = tmpdirFor()
    // The entry point ends its own run as FAILED (as mlflow.end_run("FAILED") would) and then exits 0.
    dir.write(
      "project/MLproject",
      `entry_points:\n  main:\n    command: 'meta="$(echo "$MLFLOW_TRACKING_URI" | cut -c8-)/$MLFLOW_EXPERIMENT_ID/$MLFLOW_RUN_ID/meta.yaml"; sed -i "s/^status: 1$/status: 4/; s/^end_time: null$/end_time: 1/" "$meta"'\n`,
    )
    const result = await cli(["run", "project", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const run = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    expect(run.meta.status).toBe(4)
    expect(run.meta.end_time).toBe(1)
  })

  test("experiments: created by name once, chosen by id or by MLFLOW_EXPERIMENT_NAME, unknown id refused", async () => {
    await using dir = tmpdirFor()
    const first = await cli(["run", example, "--experiment-name", "sweep", "--json"], { cwd: dir.path })
    const created = first.events.find((e) => e.type === "experiment.created") as Record<string, unknown>
    expect(created.name).toBe("sweep")
    const id = created.experiment_id as string
    expect(id).toMatch(/^[1-9]\d{17}$/)
    const second = await cli(["run", example, "--json"], { cwd: dir.path, env: { MLFLOW_EXPERIMENT_NAME: "sweep" } })
    expect(second.events.some((e) => e.type === "experiment.created")).toBe(false)
    expect(finished(second.events).experiment_id).toBe(id)
    const third = await cli(["run", example, "--experiment-id", id, "--json"], { cwd: dir.path })
    expect(finished(third.events).experiment_id).toBe(id)
    expect(runIds(join(dir.path, "mlruns"), id)).toHaveLength(3)
    const missing = await cli(["run", example, "--experiment-id", "424242"], { cwd: dir.path })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("experiment id '424242' does not exist")
  })

  test("--run-name names the run; --run-id continues an existing run", async () => {
    await using dir = tmpdirFor()
    const first = await cli(["run", example, "--run-name", "baseline", "--json"], { cwd: dir.path })
    const runId = finished(first.events).run_id as string
    const mlruns = join(dir.path, "mlruns")
    expect(readRun(mlruns, "0", runId).meta.run_name).toBe("baseline")
    const again = await cli(["run", example, "--run-id", runId, "--json"], { cwd: dir.path })
    expect(again.code).toBe(0)
    expect(again.events.find((e) => e.type === "run.created")).toMatchObject({ run_id: runId, resumed: true })
    expect(runIds(mlruns, "0")).toEqual([runId])
    const unknown = await cli(["run", example, "--run-id", "0".repeat(32)], { cwd: dir.path })
    expect(unknown.code).toBe(2)
  })

  test("MLFLOW_TRACKING_URI chooses the store (a plain relative path or a file: URI)", async () => {
    await using dir = tmpdirFor()
    const plain = await cli(["run", example, "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: "store-a" } })
    expect(finished(plain.events).tracking_uri).toBe(`file://${dir.path}/store-a`)
    expect(runIds(join(dir.path, "store-a"), "0")).toHaveLength(1)
    const uri = await cli(["run", example, "--json"], { cwd: dir.path, env: { MLFLOW_TRACKING_URI: `file://${dir.path}/store-b` } })
    expect(uri.code).toBe(0)
    expect(runIds(join(dir.path, "store-b"), "0")).toHaveLength(1)
  })

  test("inside a Git work tree the run carries the commit and the redacted remote", async () => {
    await using dir = tmpdirFor()
    dir.write("repo/models/train/MLproject", "entry_points:\n  main:\n    command: 'true'\n")
    const git = (...args: string[]) => Bun.spawnSync(["git", "-C", join(dir.path, "repo"), ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } })
    git("init", "-q")
    git("remote", "add", "origin", "https://user:s3cr3t-token@git.example.com/team/repo.git")
    git("add", ".")
    git("commit", "-qm", "init")
    const head = git("rev-parse", "HEAD").stdout.toString().trim()
    const result = await cli(["run", "repo/models/train", "--json"], { cwd: dir.path })
    expect(result.code).toBe(0)
    const run = readRun(join(dir.path, "mlruns"), "0", finished(result.events).run_id as string)
    expect(run.tags["mlflow.source.git.commit"]).toBe(head)
    expect(run.tags["mlflow.source.git.repoURL"]).toBe("https://git.example.com/team/repo.git")
    expect(run.tags["mlflow.gitRepoURL"]).toBe("https://git.example.com/team/repo.git")
    expect(run.tags["mlflow.source.git.branch"]).toBe(git("rev-parse", "--abbrev-ref", "HEAD").stdout.toString().trim())
    expect(run.tags["mlflow.source.name"]).toBe(`file://${dir.path}/repo#models/train`)
    expect(result.stdout).not.toContain("s3cr3t-token")
    const everything = Object.values(run.tags).join("\n") + readFileSync(join(run.dir, "meta.yaml"), "utf8")
    expect(everything).not.toContain("s3cr3t-token")
  })

  test("the human view prints where the run was recorded", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "-P", "epochs=1"], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("epoch 1: loss=")
    expect(result.stderr).toContain(`recorded in ${dir.path}/mlruns (experiment 0)`)
    expect(result.stderr).toContain("environment: local")
  })

  test("--events writes JSON lines to a file while the text view stays", async () => {
    await using dir = tmpdirFor()
    const result = await cli(["run", example, "-P", "epochs=1", "--events", "events.jsonl"], { cwd: dir.path })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("epoch 1: loss=")
    const events = readFileSync(join(dir.path, "events.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
    expect(events.some((e: { type: string; line?: string }) => e.type === "log" && e.line?.startsWith("epoch 1"))).toBe(true)
  })

  test("--events fd:3 writes JSON lines to an inherited descriptor", async () => {
    await using dir = tmpdirFor()
    const out = join(dir.path, "fd3.jsonl")
    const child = Bun.spawnSync(["bash", "-c", `"$0" run "$1" -P epochs=1 --events fd:3 3>"$2"`, requireBinary(), example, out], { cwd: dir.path })
    expect(child.exitCode).toBe(0)
    expect(child.stdout.toString()).toContain("epoch 1: loss=")
    const events = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
  })

  test("meta.yaml files written by a run parse back", async () => {
    await using dir = tmpdirFor()
    await cli(["run", example, "--experiment-name", "yes"], { cwd: dir.path })
    for (const experiment of readdirSync(join(dir.path, "mlruns")).filter((n) => /^\d+$/.test(n))) {
      const meta = parse(readFileSync(join(dir.path, "mlruns", experiment, "meta.yaml"), "utf8"), { version: "1.1" })
      expect(typeof meta.name).toBe("string")
    }
  })
})

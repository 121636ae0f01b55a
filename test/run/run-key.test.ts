// The run key: what changes it (content, parameters, inputs, environment, entry point, subdir) and what does not, and its cost.
import { describe, expect, test } from "bun:test"
import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { planRun } from "../../src/run/plan.ts"
import type { RunRequest } from "../../src/run/request.ts"
import { runKey, runKeyParts, type RunKeyInput } from "../../src/run/run-key.ts"
import { contentDigest } from "../../src/run/tree-digest.ts"
import { pathToFileUri } from "../../src/tracking/tracking-uri.ts"
import { installedPython } from "../lib/env-project.ts"
import { objectServer } from "../lib/object-server.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"

const request = (uri: string, overrides: Partial<RunRequest> = {}): RunRequest => ({
  uri,
  entryPoint: "main",
  params: [],
  dockerArgs: [],
  backend: "local",
  buildImage: false,
  dryRun: false,
  rebuildEnv: false,
  noCache: false,
  fetcher: "auto",
  graceMs: 10_000,
  verbose: false,
  detach: false,
  timeoutMs: null,
  retries: 0,
  reuse: false,
  ...overrides,
})

const mlproject = `name: keyed
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      data: {type: path, default: data.csv}
    command: "python3 train.py --alpha {alpha} --data {data}"
  other:
    command: "echo other"
`

const project = (dir: TmpDir, at = "proj"): string => {
  dir.write(`${at}/MLproject`, mlproject)
  dir.write(`${at}/train.py`, "print('train')\n")
  dir.write(`${at}/data.csv`, "a,b\n1,2\n")
  return join(dir.path, at)
}

/** The key of a real plan of `uri`, run from `cwd` (racyMs 0: files the test just wrote count as settled). */
const keyOf = async (dir: TmpDir, uri: string, overrides: Partial<RunRequest> = {}, cwd = uri.split("#")[0] as string) => {
  const env = { ...process.env, MLFLOW_TRACKING_URI: pathToFileUri(join(dir.path, "mlruns")) }
  const plan = await planRun(request(uri, { storageDir: join(dir.path, "storage"), ...overrides }), { emit: () => {}, cwd, env })
  return { key: await runKey(plan, { env, racyMs: 0 }), parts: runKeyParts(plan, { env, racyMs: 0 }), plan }
}

describe("the run key", () => {
  test("same content, same key; a changed param, file, entry point or subdir gives another", async () => {
    await using dir = tmpdirFor()
    const root = project(dir)
    const base = (await keyOf(dir, root)).key
    expect(base).toMatch(/^[0-9a-f]{64}$/)
    expect((await keyOf(dir, root)).key).toBe(base)
    // The same value spelled by default or by -P is the same run.
    expect((await keyOf(dir, root, { params: [["alpha", "0.5"]] })).key).toBe(base)
    expect((await keyOf(dir, root, { params: [["alpha", "0.6"]] })).key).not.toBe(base)
    expect((await keyOf(dir, root, { entryPoint: "other" })).key).not.toBe(base)
    dir.write("proj/train.py", "print('train v2')\n")
    const edited = (await keyOf(dir, root)).key
    expect(edited).not.toBe(base)
    dir.write("proj/train.py", "print('train')\n")
    expect((await keyOf(dir, root)).key).toBe(base)
    // Two identical folders of one repository differ by their #subdir alone.
    project(dir, "repo/a")
    project(dir, "repo/b")
    const a = await keyOf(dir, `${join(dir.path, "repo")}#a`, {}, join(dir.path, "repo", "a"))
    const b = await keyOf(dir, `${join(dir.path, "repo")}#b`, {}, join(dir.path, "repo", "b"))
    expect((a.parts.source as { tree: string }).tree).toBe((b.parts.source as { tree: string }).tree)
    expect(a.key).not.toBe(b.key)
  })

  test("a local path parameter counts by its content; a touched-but-unchanged file keeps the key", async () => {
    await using dir = tmpdirFor()
    const root = project(dir)
    dir.write("outside/input.csv", "x\n1\n")
    const withInput = { params: [["data", join(dir.path, "outside", "input.csv")]] as Array<[string, string]> }
    const base = (await keyOf(dir, root, withInput)).key
    dir.write("outside/input.csv", "x\n2\n")
    expect((await keyOf(dir, root, withInput)).key).not.toBe(base)
    dir.write("outside/input.csv", "x\n1\n")
    expect((await keyOf(dir, root, withInput)).key).toBe(base)
    // Touched: a new mtime and ctime, the same bytes. The file is hashed again and the key stays.
    const later = new Date(Date.now() + 60_000)
    utimesSync(join(dir.path, "outside", "input.csv"), later, later)
    utimesSync(join(root, "train.py"), later, later)
    expect((await keyOf(dir, root, withInput)).key).toBe(base)
    // A folder parameter: a file added inside changes it.
    dir.write("outside/set/1.csv", "1\n")
    const folder = { params: [["data", join(dir.path, "outside", "set")]] as Array<[string, string]> }
    const before = (await keyOf(dir, root, folder)).key
    dir.write("outside/set/2.csv", "2\n")
    expect((await keyOf(dir, root, folder)).key).not.toBe(before)
  })

  test("what runs write is not content: mlruns, __pycache__, .git and the tracking store", async () => {
    await using dir = tmpdirFor()
    const root = project(dir)
    const env = { ...process.env, MLFLOW_TRACKING_URI: pathToFileUri(join(root, "store")) }
    const key = async () => runKey(await planRun(request(root), { emit: () => {}, cwd: root, env }), { env, racyMs: 0 })
    const base = await key()
    dir.write("proj/mlruns/0/meta.yaml", "name: Default\n")
    dir.write("proj/__pycache__/train.cpython-311.pyc", "bytecode")
    dir.write("proj/.git/HEAD", "ref: refs/heads/main\n")
    dir.write("proj/store/0/meta.yaml", "name: Default\n")
    dir.write("proj/helper.pyc", "bytecode")
    dir.write("proj/__proto__", "a file name like any other")
    expect(await key()).not.toBe(base)
    const withProto = await key()
    expect(await key()).toBe(withProto)
    dir.write("proj/__proto__", "changed")
    expect(await key()).not.toBe(withProto)
    rmSync(join(root, "__proto__"))
    expect(await key()).toBe(base)
    dir.write("proj/notes.txt", "a new file is content\n")
    expect(await key()).not.toBe(base)
  })

  test("a remote path input counts by its version: the same URI with new content gives another key", async () => {
    await using dir = tmpdirFor()
    const root = project(dir)
    await using server = objectServer({ "/data/train.csv": new TextEncoder().encode("a,b\n1,2\n") })
    const remote = { params: [["data", `${server.url}/data/train.csv`]] as Array<[string, string]> }
    const first = await keyOf(dir, root, remote)
    const parameter = first.plan.parameters.parameters.find((p) => p.name === "data")
    expect(parameter?.remote).toEqual({ uri: `${server.url}/data/train.csv`, version: expect.any(String) })
    // Downloaded again into a fresh storage folder: another local path, the same key.
    expect((await keyOf(dir, root, remote)).key).toBe(first.key)
    server.put("/data/train.csv", new TextEncoder().encode("a,b\n1,3\n"))
    expect((await keyOf(dir, root, remote)).key).not.toBe(first.key)
  })

  test("the environment: a changed requirements file changes the python_env cache key and the run key", async () => {
    await using dir = tmpdirFor()
    const python = installedPython("3.11")
    dir.write("py/MLproject", "name: py\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: python train.py\n")
    dir.write("py/python_env.yaml", `python: "${python}"\nbuild_dependencies: []\ndependencies:\n  - -r requirements.txt\n`)
    dir.write("py/requirements.txt", "six==1.16.0\n")
    dir.write("py/train.py", "print(1)\n")
    const root = join(dir.path, "py")
    const first = await keyOf(dir, root)
    expect(first.parts).toMatchObject({ env_manager: "virtualenv", environment: { key: expect.stringMatching(/^virtualenv-[0-9a-f]{16}$/) } })
    expect((await keyOf(dir, root, { envManager: "local" })).key).not.toBe(first.key)
    dir.write("py/requirements.txt", "six==1.17.0\n")
    const second = await keyOf(dir, root)
    expect((second.parts.environment as { key: string }).key).not.toBe((first.parts.environment as { key: string }).key)
    expect(second.key).not.toBe(first.key)
  })

  test("git and archive sources count by commit and sha256; docker by image id, else its name; -A env values never", async () => {
    const base: RunKeyInput = {
      source: { kind: "git", dir: "/w/repo/sub", root: "/w/repo", git: { commit: "a".repeat(40), repo_url: null } },
      entryPoint: { name: "main" },
      parameters: { parameters: [{ name: "n", type: "string", value: "1" }] },
      envManager: "docker",
      env: null,
      docker: { plan: { image: "train:latest", buildImage: false } },
      request: { backend: "local", dockerArgs: [["env", "TOKEN=secret"]], storageDir: undefined },
      trackingUri: "http://127.0.0.1:1",
    }
    const key = (input: RunKeyInput, imageId?: string) => runKey(input, imageId ? { imageId } : {})
    const reference = await key(base)
    expect(await key({ ...base, source: { ...base.source, dir: "/elsewhere/repo/sub", root: "/elsewhere/repo" } })).toBe(reference)
    expect(await key({ ...base, source: { ...base.source, git: { commit: "b".repeat(40), repo_url: null } } })).not.toBe(reference)
    expect(await key({ ...base, source: { ...base.source, dir: "/w/repo/other" } })).not.toBe(reference)
    expect(await key(base, "sha256:1111")).not.toBe(reference)
    expect(await key(base, "sha256:1111")).toBe(await key({ ...base, docker: { plan: { image: "renamed:tag", buildImage: false } } }, "sha256:1111"))
    expect(await key({ ...base, request: { ...base.request, dockerArgs: [["env", "TOKEN=other"]] } })).toBe(reference)
    expect(JSON.stringify(runKeyParts(base))).not.toContain("secret")
    const archive: RunKeyInput = { ...base, source: { kind: "archive", dir: "/x", root: "/x", archive: { sha256: "c".repeat(64) } } }
    expect(await key(archive)).not.toBe(await key({ ...archive, source: { ...archive.source, archive: { sha256: "d".repeat(64) } } }))
    const remote = (version: string | null) => ({ ...base, parameters: { parameters: [{ name: "d", type: "path", value: "/tmp/none", remote: { uri: "s3://b/k", version } }] } }) as RunKeyInput
    expect(await key(remote("v1"))).not.toBe(await key(remote("v2")))
  })

  test("cached, a trivial project's key costs well under 1 ms (stat only); the first run hashes every file", async () => {
    await using dir = tmpdirFor()
    const root = project(dir)
    mkdirSync(join(root, "src"))
    for (let i = 0; i < 8; i++) writeFileSync(join(root, "src", `m${i}.py`), `x = ${i}\n`)
    const env = { ...process.env, MLFLOW_TRACKING_URI: pathToFileUri(join(dir.path, "mlruns")) }
    const plan = await planRun(request(root), { emit: () => {}, cwd: root, env })
    expect(contentDigest(root, { env, racyMs: 0 }).hashed).toBe(11)
    expect(contentDigest(root, { env, racyMs: 0 }).hashed).toBe(0)
    // Files younger than the racy window are hashed every time, never trusted from the cache.
    expect(contentDigest(root, { env }).hashed).toBe(11)
    await runKey(plan, { env, racyMs: 0 })
    const times: number[] = []
    for (let i = 0; i < 200; i++) {
      const started = performance.now()
      await runKey(plan, { env, racyMs: 0 })
      times.push(performance.now() - started)
    }
    times.sort((a, b) => a - b)
    const median = times[100] as number
    console.log(`run key, cached, 11-file project + 1 path parameter: median ${(median * 1000).toFixed(0)} µs, p90 ${((times[180] as number) * 1000).toFixed(0)} µs`)
    expect(median).toBeLessThan(1)
  })
})

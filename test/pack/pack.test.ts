// `mlproject pack` and `run FILE.mlpack` through the binary: real wheels (one compiled here) from a loopback index,
// the pack run in a network namespace with no way out while pip's own configuration points at that index.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { binary, cli, requireBinary } from "../lib/cli.ts"
import { dockerSkipReason, removeImage, skipDocker, testDocker, testImage } from "../lib/docker.ts"
import { nativeWheel } from "../lib/native-wheel.ts"
import { jsonEvents } from "../lib/run-events.ts"
import { simpleIndex, type SimpleIndex } from "../lib/simple-index.ts"
import { tmpdirFor, type TmpDir } from "../lib/tmp.ts"
import { wheelhouse } from "../lib/wheels.ts"

const python311 = join(process.env.PYENV_ROOT ?? join(process.env.HOME ?? "/root", ".pyenv"), "versions", "3.11.7", "bin", "python")
const skip = !existsSync(python311) && !process.env.CI
if (skip) console.warn(`note: pack tests need pyenv's Python 3.11.7 (${python311}): skipped`)
const describePack = skip ? describe.skip : describe

type Setup = { dir: TmpDir; index: SimpleIndex; env: Record<string, string>; pack: string }
let setup: Setup

beforeAll(async () => {
  if (skip) return
  requireBinary()
  const dir = tmpdirFor("mlproject-pack-")
  const wheels = join(dir.path, "wheels")
  mkdirSync(wheels)
  copyFileSync(join(wheelhouse(), "mlp_alpha-1.0.0-py3-none-any.whl"), join(wheels, "mlp_alpha-1.0.0-py3-none-any.whl"))
  await nativeWheel(python311, wheels)
  const index = simpleIndex(wheels)
  dir.write("project/python_env.yaml", "python: '3.11'\nbuild_dependencies: []\ndependencies: [mlp_alpha, mlp_native]\n")
  dir.write(
    "project/MLproject",
    "name: packed\npython_env: python_env.yaml\nentry_points:\n  main:\n    parameters: {a: {type: float, default: 2}}\n    command: python -c \"import sys, mlp_alpha, mlp_native; print('sum', mlp_native.add(int({a}), 3), 'alpha', mlp_alpha.VERSION)\"\n",
  )
  // pip's own configuration names the index: a pack run must never use it (the index records every request).
  const home = join(dir.path, "home")
  mkdirSync(join(home, ".config", "pip"), { recursive: true })
  writeFileSync(join(home, ".config", "pip", "pip.conf"), `[global]\nindex-url = ${index.indexUrl}\n`)
  const env = {
    HOME: home,
    PIP_INDEX_URL: index.indexUrl,
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    MLPROJECT_HOME: join(dir.path, "mlproject-home"),
    MLFLOW_TRACKING_URI: join(dir.path, "mlruns"),
    PYENV_ROOT: join(python311, "..", "..", "..", ".."),
  }
  setup = { dir, index, env, pack: join(dir.path, "packed.mlpack") }
})

afterAll(async () => {
  await setup?.index[Symbol.asyncDispose]()
  await setup?.dir[Symbol.asyncDispose]()
})

const sha256 = (file: string) => new Bun.CryptoHasher("sha256").update(readFileSync(file)).digest("hex")

/** The binary with no network at all: a new network namespace, not even loopback up. */
const offline = async (args: string[], env: Record<string, string>) => {
  const child = Bun.spawn(["unshare", "-n", binary, ...args], { cwd: setup.dir.path, env: { PATH: process.env.PATH as string, ...env }, stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  return { stdout, stderr, code }
}

describePack("mlproject pack of a python_env project", () => {
  test("packs every wheel (pure and compiled) from the index; packing twice gives the same bytes; describe shows the manifest", async () => {
    const first = await cli(["pack", join(setup.dir.path, "project"), "-o", setup.pack, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(first.stderr).toBe("")
    expect(first.code).toBe(0)
    const written = jsonEvents(first.stdout).find((e) => e.type === "pack.written")
    expect(written?.manifest.env.wheels.map((w: { file: string }) => w.file)).toEqual(["wheels/mlp_alpha-1.0.0-py3-none-any.whl", "wheels/mlp_native-1.0.0-cp311-cp311-linux_x86_64.whl"])
    expect(written?.manifest.env).toMatchObject({ kind: "python_env", manager: "virtualenv", python: "3.11", platform: "linux-x64" })
    expect(setup.index.requests.some((r) => r.path.startsWith("/files/mlp_native"))).toBe(true)
    const again = join(setup.dir.path, "again.mlpack")
    expect((await cli(["pack", join(setup.dir.path, "project"), "-o", again], { cwd: setup.dir.path, env: setup.env })).code).toBe(0)
    expect(sha256(again)).toBe(sha256(setup.pack))
    expect(written?.sha256).toBe(sha256(setup.pack))
    const described = await cli(["describe", setup.pack, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(described.code).toBe(0)
    const manifest = jsonEvents(described.stdout).find((e) => e.type === "pack.manifest")
    expect(manifest?.manifest.files["wheels/mlp_native-1.0.0-cp311-cp311-linux_x86_64.whl"]).toMatch(/^[0-9a-f]{64}$/)
    expect(jsonEvents(described.stdout).find((e) => e.type === "project.described")?.name).toBe("packed")
  }, 120_000)

  test("runs inside a network namespace with no way out: FINISHED from the packed wheels, the index never asked", async () => {
    const hits = setup.index.requests.length
    const result = await offline(["run", setup.pack, "-P", "a=4", "--json"], setup.env)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    const all = jsonEvents(result.stdout)
    expect(all.find((e) => e.type === "run.finished")?.status).toBe("FINISHED")
    expect(all.filter((e) => e.type === "log").map((e) => e.line)).toContain("sum 7 alpha 1.0.0")
    expect(setup.index.requests.length).toBe(hits)
    // MLflow's source tags name the pack's source, not the cache folder it was unpacked into.
    const runId = all.find((e) => e.type === "run.finished")?.run_id as string
    const tags = join(setup.env.MLFLOW_TRACKING_URI as string, "0", runId, "tags")
    expect(readFileSync(join(tags, "mlflow.source.name"), "utf8")).toBe(join(setup.dir.path, "project"))
  }, 180_000)

  test("with the index reachable, a pack run on a fresh machine still asks it nothing", async () => {
    const hits = setup.index.requests.length
    const result = await cli(["run", setup.pack, "--json"], { cwd: setup.dir.path, env: { ...setup.env, MLPROJECT_HOME: join(setup.dir.path, "fresh-home") } })
    expect(result.code).toBe(0)
    expect(setup.index.requests.length).toBe(hits)
  }, 180_000)

  test("a tampered pack is refused before anything runs: the file and both hashes named", async () => {
    const tar = gunzipSync(readFileSync(setup.pack))
    // One byte of the project's MLproject text (found by its content), changed in place: sizes and headers stay valid.
    const text = tar.indexOf(Buffer.from("name: packed"))
    expect(text).toBeGreaterThan(0)
    tar[text + 6] = "P".charCodeAt(0)
    const tampered = join(setup.dir.path, "tampered.mlpack")
    writeFileSync(tampered, gzipSync(tar))
    const result = await cli(["run", tampered, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(result.code).toBe(2)
    const error = jsonEvents(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("pack.corrupt")
    expect(error?.message).toContain("project/MLproject")
    expect(error?.message).toMatch(/[0-9a-f]{64}.*[0-9a-f]{64}/s)
    expect(jsonEvents(result.stdout).some((e) => e.type === "run.created")).toBe(false)
  }, 60_000)

  test("a pack for another platform, and for a Python this node lacks, say what they need and what is here", async () => {
    setup.dir.write("pure/MLproject", "name: pure\npython_env: python_env.yaml\nentry_points:\n  main:\n    command: python -c 'import mlp_alpha'\n")
    setup.dir.write("pure/python_env.yaml", "python: '3.11'\nbuild_dependencies: []\ndependencies: [mlp_alpha]\n")
    const arm = join(setup.dir.path, "arm.mlpack")
    expect((await cli(["pack", join(setup.dir.path, "pure"), "--platform", "linux-arm64", "-o", arm], { cwd: setup.dir.path, env: setup.env })).code).toBe(0)
    const onArm = await cli(["run", arm, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(onArm.code).toBe(2)
    expect(jsonEvents(onArm.stdout).find((e) => e.type === "error")).toMatchObject({ code: "pack.platform" })
    expect(jsonEvents(onArm.stdout).find((e) => e.type === "error")?.message).toContain("linux-arm64")
    const old = join(setup.dir.path, "py35.mlpack")
    expect((await cli(["pack", join(setup.dir.path, "pure"), "--python", "3.5", "-o", old], { cwd: setup.dir.path, env: setup.env })).code).toBe(0)
    const onOld = await cli(["run", old, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(onOld.code).toBe(2)
    const error = jsonEvents(onOld.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("pack.python")
    expect(error?.message).toContain("3.5")
    expect(error?.message).toContain("3.11.7")
  }, 120_000)

  test("a dependency with no wheel for the target platform is named", async () => {
    const result = await cli(["pack", join(setup.dir.path, "project"), "--platform", "linux-arm64", "-o", join(setup.dir.path, "no.mlpack"), "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(result.code).toBe(2)
    const error = jsonEvents(result.stdout).find((e) => e.type === "error")
    expect(error?.code).toBe("pack.no_wheel")
    expect(error?.message).toContain("mlp_native")
    expect(existsSync(join(setup.dir.path, "no.mlpack"))).toBe(false)
  }, 60_000)
})

const describeDocker = skip || skipDocker ? describe.skip : describe
if (skipDocker) console.warn(`note: the docker pack test needs Docker: ${dockerSkipReason}`)

describeDocker("mlproject pack --include-image of a docker project", () => {
  test("runs on a daemon that has had the image removed: the pack loads it", async () => {
    const base = await testImage("busybox")
    // A tag of its own, so removing it leaves the other tests' image alone.
    const image = `mlproject-pack-test:${Date.now()}`
    const tagged = await testDocker?.request("POST", `/images/${encodeURIComponent(base)}/tag`, { query: { repo: image.split(":")[0], tag: image.split(":")[1] } })
    expect(tagged?.status).toBe(201)
    setup.dir.write("docker/MLproject", `name: boxed\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: echo from-the-packed-image\n`)
    const pack = join(setup.dir.path, "docker.mlpack")
    const packed = await cli(["pack", join(setup.dir.path, "docker"), "--include-image", "-o", pack, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(packed.stderr).toBe("")
    expect(packed.code).toBe(0)
    expect(jsonEvents(packed.stdout).find((e) => e.type === "pack.written")?.manifest.image.name).toBe(image)
    await removeImage(image)
    const result = await cli(["run", pack, "--json"], { cwd: setup.dir.path, env: setup.env })
    expect(result.code).toBe(0)
    const all = jsonEvents(result.stdout)
    expect(all.some((e) => e.type === "pack.image.loaded")).toBe(true)
    expect(all.filter((e) => e.type === "log").map((e) => e.line)).toContain("from-the-packed-image")
    await removeImage(image)
  }, 180_000)
})

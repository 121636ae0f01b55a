// Docker benchmark: (a) an unchanged project's second --build-image run against its first; (b) a trivial entry point in a
// prebuilt image against `docker run --rm <image> true`. Through dist/mlproject once it runs docker projects; until then
// through the same modules compiled into a one-run binary (no tracking store writes), and says so.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startDocker } from "../../src/backend/docker.ts"
import { containerSpec, planDocker } from "../../src/env/docker.ts"
import { buildProjectImage, ensureImage } from "../../src/env/docker-image.ts"
import { connectDocker } from "../../src/util/docker-api.ts"
import { measure, median, report } from "./lib.ts"

/** One run through the modules, as the binary will do it: plan, image, container, wait, remove. Exit code passed on. */
const runOnce = async (projectDir: string, image: string, buildImage: boolean): Promise<{ code: number; uri: string; prepareMs: number }> => {
  const started = performance.now()
  const docker = await connectDocker(process.env)
  const plan = planDocker({ docker: { image, volumes: [], environment: [] }, projectDir, projectName: "bench", dockerArgs: [], buildImage, cwd: projectDir, env: process.env })
  const context = { docker, env: process.env, emit: () => {} }
  const mlruns = join(projectDir, "mlruns")
  const prepared = buildImage ? await buildProjectImage({ baseImage: image, projectDir, projectName: "bench", exclude: [mlruns] }, context) : await ensureImage(image, context)
  const prepareMs = performance.now() - started
  const runId = crypto.randomUUID().replaceAll("-", "")
  const spec = containerSpec(plan, { image: prepared, command: "true", runId, experimentId: "0", trackingUri: `file://${mlruns}`, artifactUri: `file://${mlruns}/0/${runId}/artifacts`, env: process.env, cwd: projectDir })
  const never = new AbortController().signal
  const handle = await startDocker({ docker, spec, runId, output: { to: "terminal" }, graceMs: 10_000, emit: () => {}, interrupt: never, forceInterrupt: never })
  const outcome = await handle.wait()
  return { code: outcome.exitCode ?? 1, uri: prepared.uri, prepareMs }
}

if (process.argv[2] === "--once") {
  const [projectDir, image, build] = process.argv.slice(3) as [string, string, string]
  const result = await runOnce(projectDir, image, build === "build")
  console.log(JSON.stringify(result))
  process.exit(result.code)
}

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-docker-"))
const rounds = Number(process.env.ROUNDS ?? 15)
const buildRounds = Number(process.env.BUILD_ROUNDS ?? 5)
const { testImage, removeImage, removeRepository } = await import("../../test/lib/docker.ts")
const image = await testImage()

/** A realistic small project: 40 source files and a 1 MiB data file. */
const makeProject = (dir: string, marker: string) => {
  mkdirSync(join(dir, "src"), { recursive: true })
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, "src", `module_${i}.py`), `# ${marker}\n${"x = 1\n".repeat(350)}`)
  writeFileSync(join(dir, "data.bin"), Buffer.alloc(1 << 20, 7))
  writeFileSync(join(dir, "MLproject"), `name: bench\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: "true"\n`)
  return dir
}

const spawnTimed = (argv: string[], cwd: string): { ms: number; stdout: string } => {
  const started = performance.now()
  const result = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" })
  const ms = performance.now() - started
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${result.exitCode}): ${result.stderr.toString().slice(0, 500)}`)
  return { ms, stdout: result.stdout.toString() }
}

const probe = makeProject(join(work, "probe"), "probe")
const wired = existsSync(binary) && Bun.spawnSync([binary, "run", probe, "--json"], { cwd: work, stdout: "ignore", stderr: "ignore" }).exitCode === 0
let once: string[]
if (wired) once = []
else {
  const out = join(work, "docker-once")
  const built = Bun.spawnSync([process.execPath, "build", "--compile", "--format=esm", "--minify", "--bytecode", import.meta.path, "--outfile", out], { stdout: "ignore", stderr: "pipe" })
  if (built.exitCode !== 0) throw new Error(`compiling the one-run binary failed: ${built.stderr.toString()}`)
  once = [out, "--once"]
}
const via = wired ? "dist/mlproject run" : "modules compiled as one-run binary (dist/mlproject does not run docker projects yet)"
const ourRun = (dir: string, build: boolean) => (wired ? [binary, "run", dir, ...(build ? ["--build-image"] : [])] : [...once, dir, image, build ? "build" : "plain"])

try {
  // (a) first --build-image run of a fresh project (content unseen, so it builds) against the second (unchanged: reused).
  const first: number[] = []
  const second: number[] = []
  const prepareFirst: number[] = []
  const prepareSecond: number[] = []
  for (let round = 0; round < buildRounds; round++) {
    const dir = makeProject(join(work, `build-${round}`), crypto.randomUUID())
    const cold = spawnTimed(ourRun(dir, true), work)
    first.push(cold.ms)
    second.push(spawnTimed(ourRun(dir, true), work).ms)
    // The image step alone, in process: where the 0.1x goal is about (the container run itself costs the same both times).
    const fresh = makeProject(join(work, `prepare-${round}`), crypto.randomUUID())
    const built = await runOnce(fresh, image, true)
    const reused = await runOnce(fresh, image, true)
    prepareFirst.push(built.prepareMs)
    prepareSecond.push(reused.prepareMs)
    await removeImage(built.uri)
  }
  const row = (name: string, ms: number, base: number) => console.log(`  ${name.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  (${(ms / base).toFixed(3)}x)`)
  console.log(`(a) --build-image, unchanged project, median of ${buildRounds} rounds, via ${via}`)
  row("whole run, first (builds)", median(first), median(first))
  row("whole run, second (reuses)", median(second), median(first))
  row("image step, first (hash + build)", median(prepareFirst), median(prepareFirst))
  row("image step, second (hash + inspect)    goal <= 0.1x", median(prepareSecond), median(prepareFirst))

  // (b) a trivial entry point against the docker CLI doing the same by hand.
  const plain = makeProject(join(work, "plain"), "plain")
  const medians = measure(
    [
      { name: "docker run --rm <image> true", argv: ["/usr/local/bin/docker", "run", "--rm", image, "true"], cwd: work },
      { name: "mlproject run (true)", argv: ourRun(plain, false), cwd: work },
    ],
    rounds,
    2,
  )
  report(`(b) trivial entry point in a prebuilt image, median of ${rounds} interleaved runs, via ${via}`, medians, "docker run --rm <image> true", {
    "mlproject run (true)": "<= 1.2x",
  })
} finally {
  rmSync(work, { recursive: true, force: true })
  await removeRepository("bench")
}

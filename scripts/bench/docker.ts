// Docker benchmark through the compiled binary: a trivial entry point in a prebuilt image against `docker run --rm <image>
// true`, and the second --build-image run of an unchanged project against the prebuilt-image run; plus the image step alone.
// Usage: bun scripts/bench/docker.ts  (ROUNDS, BUILD_ROUNDS; BASELINE_BINARY=<an earlier build> measures it in the same rounds)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildProjectImage } from "../../src/env/docker-image.ts"
import { connectDocker } from "../../src/util/docker-api.ts"
import { measure, median, report, useOwnHome, type Case } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-docker-"))
useOwnHome(work)
const rounds = Number(process.env.ROUNDS ?? 15)
const buildRounds = Number(process.env.BUILD_ROUNDS ?? 5)
const baseline = process.env.BASELINE_BINARY
const { testImage, removeImage, removeRepository } = await import("../../test/lib/docker.ts")
// A base image imported from this host's busybox-static (and bash, python3): no registry involved.
const image = await testImage()

/** A realistic small project: 40 source files and a 1 MiB data file. */
const makeProject = (dir: string, marker: string) => {
  mkdirSync(join(dir, "src"), { recursive: true })
  for (let i = 0; i < 40; i++) writeFileSync(join(dir, "src", `module_${i}.py`), `# ${marker}\n${"x = 1\n".repeat(350)}`)
  writeFileSync(join(dir, "data.bin"), Buffer.alloc(1 << 20, 7))
  writeFileSync(join(dir, "MLproject"), `name: bench\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: "true"\n`)
  return dir
}

const docker = await connectDocker(process.env)
const imageContext = { docker, env: process.env, emit: () => {} }
const goal = (what: string, ratio: number, limit: number) =>
  console.log(`  goal: ≤ ${limit}× ${what}: ${ratio.toFixed(3)}× ${ratio <= limit ? "met" : "NOT met"}`)

try {
  // The image step alone, in process: hashing the context and finding the tag against hashing and building it.
  const prepareFirst: number[] = []
  const prepareSecond: number[] = []
  for (let round = 0; round < buildRounds; round++) {
    const fresh = makeProject(join(work, `prepare-${round}`), crypto.randomUUID())
    const input = { baseImage: image, projectDir: fresh, projectName: "bench" }
    let started = performance.now()
    const built = await buildProjectImage(input, imageContext)
    prepareFirst.push(performance.now() - started)
    started = performance.now()
    await buildProjectImage(input, imageContext)
    prepareSecond.push(performance.now() - started)
    await removeImage(built.uri)
  }
  console.log(`(a) --build-image image step in process, median of ${buildRounds} fresh projects`)
  console.log(`  first (hash + build)            ${median(prepareFirst).toFixed(1).padStart(8)} ms`)
  console.log(`  second (hash + inspect)         ${median(prepareSecond).toFixed(1).padStart(8)} ms  (${(median(prepareSecond) / median(prepareFirst)).toFixed(3)}x)`)

  // Whole runs through dist/mlproject (and BASELINE_BINARY), interleaved. The warm-up's first --build-image run builds
  // the project image, so every measured one is a repeated run of the unchanged project (its image found by content hash).
  const plain = makeProject(join(work, "plain"), "plain")
  const byHand = "docker run --rm <image> true"
  const runs = (bin: string, label: string, rebuilt: string): Case[] => [
    { name: `${label} (prebuilt image)`, argv: [bin, "run", plain], cwd: work },
    { name: `${label} --build-image (2nd)`, argv: [bin, "run", rebuilt, "--build-image"], cwd: work },
  ]
  const ours = runs(binary, "mlproject run", makeProject(join(work, "rebuilt"), crypto.randomUUID()))
  const before = baseline ? runs(baseline, "baseline build: run", makeProject(join(work, "rebuilt-baseline"), crypto.randomUUID())) : []
  const medians = measure([{ name: byHand, argv: ["docker", "run", "--rm", image, "true"], cwd: work }, ...ours, ...before], rounds, 2, true)
  report(`(b) trivial entry point, median of ${rounds} interleaved rounds (rotated), via dist/mlproject run`, medians, byHand)
  const at = (name: string) => medians.get(name) ?? NaN
  const goals = (cases: Case[], label: string) => {
    const [prebuilt, second] = cases.map((c) => at(c.name)) as [number, number]
    console.log(`  ${label}: --build-image (2nd) / prebuilt run: ${(second / prebuilt).toFixed(3)}×`)
    goal(`docker run --rm <image> true (${label}, prebuilt-image run)`, prebuilt / at(byHand), 1.05)
    goal(`the prebuilt-image run (${label}, second --build-image run)`, second / prebuilt, 1.1)
  }
  goals(ours, "dist/mlproject")
  if (before.length > 0) goals(before, "baseline build")
} finally {
  rmSync(work, { recursive: true, force: true })
  await removeRepository("bench")
}

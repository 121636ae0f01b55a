// Docker benchmark through the compiled binary: a trivial entry point in a prebuilt image against `docker run --rm <image>
// true`, and the second --build-image run of an unchanged project against the prebuilt-image run; plus the image step alone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { buildProjectImage } from "../../src/env/docker-image.ts"
import { connectDocker } from "../../src/util/docker-api.ts"
import { measure, median, report } from "./lib.ts"

const root = join(import.meta.dir, "..", "..")
const binary = join(root, "dist", "mlproject")
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-docker-"))
const rounds = Number(process.env.ROUNDS ?? 15)
const buildRounds = Number(process.env.BUILD_ROUNDS ?? 5)
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

  // Whole runs through dist/mlproject, interleaved. The warm-up's first --build-image run builds the project image, so
  // every measured one is a repeated run of the unchanged project (its image found by content hash).
  const plain = makeProject(join(work, "plain"), "plain")
  const rebuilt = makeProject(join(work, "rebuilt"), crypto.randomUUID())
  const byHand = "docker run --rm <image> true"
  const prebuilt = "mlproject run (prebuilt image)"
  const second = "mlproject run --build-image (2nd)"
  const medians = measure(
    [
      { name: byHand, argv: ["docker", "run", "--rm", image, "true"], cwd: work },
      { name: prebuilt, argv: [binary, "run", plain], cwd: work },
      { name: second, argv: [binary, "run", rebuilt, "--build-image"], cwd: work },
    ],
    rounds,
    2,
  )
  report(`(b) trivial entry point, median of ${rounds} interleaved rounds, via dist/mlproject run`, medians, byHand)
  const [hand, ours, again] = [medians.get(byHand), medians.get(prebuilt), medians.get(second)] as [number, number, number]
  console.log(`  --build-image (2nd) / prebuilt run: ${(again / ours).toFixed(3)}×`)
  goal("docker run --rm <image> true (prebuilt-image run)", ours / hand, 1.05)
  goal("the prebuilt-image run (second --build-image run)", again / ours, 1.1)
} finally {
  rmSync(work, { recursive: true, force: true })
  await removeRepository("bench")
}

// The text view of a docker run names the image a person knows (its name and tag), not only its sha256 id.
import { expect, test } from "bun:test"
import { cli } from "../lib/cli.ts"
import { dockerSkipReason, skipDocker, testImage } from "../lib/docker.ts"
import { tmpdirFor } from "../lib/tmp.ts"

if (skipDocker) test.skip(dockerSkipReason, () => {})

test.skipIf(skipDocker)("env.ready for docker carries the image name; the text view shows it with a short id", async () => {
  await using dir = tmpdirFor()
  const image = await testImage("busybox")
  dir.write("p/MLproject", `name: bars-py\ndocker_env:\n  image: ${image}\nentry_points:\n  main:\n    command: 'true'\n`)
  const json = await cli(["run", "p", "--json"], { cwd: dir.path })
  expect(json.code, json.stdout).toBe(0)
  const ready = json.events.find((e) => e.type === "env.ready") as Record<string, unknown>
  const id = String(ready.key)
  expect(id).toMatch(/^sha256:[0-9a-f]{64}$/)
  expect(ready).toMatchObject({ manager: "docker", image, cached: true })
  const text = await cli(["run", "p"], { cwd: dir.path })
  expect(text.code).toBe(0)
  expect(text.stderr).toContain(`mlproject: environment: docker image ${image} (${id.slice("sha256:".length, "sha256:".length + 12)}) (cached)\n`)
}, 120_000)

// Many processes, one new environment: built once; a build killed midway is never trusted, and its orphans are stopped.
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { entryPaths } from "../../src/env/cache.ts"
import { prepareEnvironment } from "../../src/env/index.ts"
import { envProject, fivePackages, isolatedEnv, recorder, removeEnvHomes } from "../lib/env-project.ts"
import { wheelhouse } from "../lib/wheels.ts"

afterAll(removeEnvHomes, 60_000)

const childScript = resolve(import.meta.dir, "..", "lib", "env-child.ts")
type Line = { type: string } & Record<string, unknown>

const spawnChild = (args: unknown, env: Record<string, string | undefined>) =>
  Bun.spawn([process.execPath, childScript, JSON.stringify(args)], { env: env as Record<string, string>, stdout: "pipe", stderr: "pipe" })

const linesOf = async (child: ReturnType<typeof spawnChild>): Promise<Line[]> =>
  (await new Response(child.stdout).text())
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line)

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

describe("environment builds under concurrency", () => {
  test("8 simultaneous preparations of one new environment: exactly one build, 8 successes", async () => {
    await using p = envProject(fivePackages("3.11"))
    const env = isolatedEnv()
    const children = Array.from({ length: 8 }, () => spawnChild({ project: p.project, manager: "virtualenv" }, env))
    const outputs = await Promise.all(children.map(linesOf))
    const codes = await Promise.all(children.map((c) => c.exited))
    expect(codes).toEqual(Array(8).fill(0))
    const results = outputs.map((lines) => lines.find((l) => l.type === "result")?.prepared as { key: string; cached: boolean; prefix: string })
    expect(new Set(results.map((r) => r.key)).size).toBe(1)
    expect(results.filter((r) => !r.cached)).toHaveLength(1)
    expect(outputs.flat().filter((l) => l.type === "env.creating")).toHaveLength(1)
    // Those that found the build under way said so, and were handed the finished environment.
    expect(outputs.flat().filter((l) => l.type === "env.waiting").length).toBeGreaterThan(0)
    const prefix = results[0]?.prefix as string
    const imported = Bun.spawnSync([join(prefix, "bin", "python"), "-c", "import mlp_alpha, mlp_epsilon"])
    expect(imported.exitCode).toBe(0)
  }, 120_000)

  test("SIGKILL in the middle of a build, then a new preparation: a clean rebuild, never the broken one", async () => {
    await using p = envProject(fivePackages("3.11"))
    const env = isolatedEnv()
    const wheels = wheelhouse()
    // A find-links server that lists the wheels and then never answers a download: pip is mid-install for sure.
    let downloading = () => {}
    const reached = new Promise<void>((resolveReached) => (downloading = resolveReached))
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        if (new URL(request.url).pathname === "/") {
          const links = readdirSync(wheels).map((name) => `<a href="${name}">${name}</a>`)
          return new Response(`<html><body>${links.join("\n")}</body></html>`, { headers: { "content-type": "text/html" } })
        }
        downloading()
        return new Promise<Response>(() => {})
      },
    })
    try {
      const child = spawnChild({ project: p.project, manager: "virtualenv" }, { ...env, PIP_FIND_LINKS: `http://127.0.0.1:${server.port}/` })
      await Promise.race([reached, Bun.sleep(45_000).then(() => Promise.reject(new Error("pip never started downloading")))])
      const root = join(String(env.MLPROJECT_HOME), "envs")
      const key = readdirSync(root).find((name) => name.endsWith(".lock"))?.replace(/\.lock$/, "") as string
      const paths = entryPaths(root, key)
      const holder = JSON.parse(readFileSync(paths.lock, "utf8")) as { pid: number; children: Array<{ pid: number }> }
      expect(holder.pid).toBe(child.pid)
      const installer = holder.children[0]?.pid as number
      expect(alive(installer)).toBe(true)

      child.kill("SIGKILL")
      await child.exited
      // What a crash leaves: a half-built prefix, no manifest, a lock of a dead process, pip still running.
      expect(existsSync(paths.prefix)).toBe(true)
      expect(existsSync(paths.manifest)).toBe(false)
      expect(existsSync(paths.lock)).toBe(true)
      expect(alive(installer)).toBe(true)
      writeFileSync(join(paths.prefix, "LEFT-BY-THE-CRASH"), "")

      const rec = recorder()
      const prepared = await prepareEnvironment({ project: p.project, manager: "virtualenv", emit: rec.emit, env, rebuild: false })
      expect(prepared).toMatchObject({ key, cached: false, prefix: paths.prefix })
      expect(rec.of("env.creating")).toHaveLength(1)
      expect(alive(installer)).toBe(false)
      expect(existsSync(join(paths.prefix, "LEFT-BY-THE-CRASH"))).toBe(false)
      expect(existsSync(paths.manifest)).toBe(true)
      expect(existsSync(paths.lock)).toBe(false)
      expect(Bun.spawnSync([join(paths.prefix, "bin", "python"), "-c", "import mlp_alpha, mlp_epsilon"]).exitCode).toBe(0)
    } finally {
      server.stop(true)
    }
  }, 120_000)
})

// Fetch benchmark: an old commit of a deep repository over git:// and over ssh, ours (cold and cached) against by hand.
// Usage: bun scripts/bench/fetch.ts [--module] [--only=git|ssh] (ROUNDS=15 COMMITS=5000; BASELINE_BINARY=<an earlier
// build> adds its cold run to the same rounds). The ssh section needs
// sshd and libnss-wrapper (.ci/run installs them) and uses a throwaway sshd and client home (test/lib/sshd.ts). Uses dist/mlproject when it runs, else
// calls resolveSource in-process (--module forces that): then the numbers exclude our process start and tracking.
// Everything (repository, checkouts, cache) lives under TMPDIR: TMPDIR=/dev/shm takes the disk out of the comparison.
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { resolveSource } from "../../src/source/index.ts"
import { gitRepo } from "../../test/lib/git.ts"
import { gitDaemon } from "../../test/lib/git-daemon.ts"
import { sshAvailable, sshd, sshHome } from "../../test/lib/sshd.ts"
import { median, report } from "./lib.ts"

const binary = join(import.meta.dir, "..", "..", "dist", "mlproject")
let useBinary = !process.argv.includes("--module") && existsSync(binary) && Bun.spawnSync([binary, "--version"]).exitCode === 0
const rounds = Number(process.env.ROUNDS ?? 15)
const commits = Number(process.env.COMMITS ?? 5000)
const only = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length)
const work = mkdtempSync(join(tmpdir(), "mlproject-bench-fetch-"))

const shell = (script: string, env: Record<string, string | undefined> = process.env) => (): void => {
  const result = Bun.spawnSync(["sh", "-c", script], { env, stdout: "ignore", stderr: "pipe" })
  if (result.exitCode !== 0) throw new Error(`${script} failed: ${result.stderr.toString()}`)
}

const timed = async (fn: () => unknown): Promise<number> => {
  const started = performance.now()
  await fn()
  return performance.now() - started
}

console.log(`building a ${commits}-commit repository with git fast-import …`)
const files = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`src/module_${i}.py`, `# module ${i}\n${"x = 1\n".repeat(200)}`]))
const repo = gitRepo({ commits, churn: 10, files, base: work })
const daemon = await gitDaemon(work)
const url = `${daemon.url}/repo.git`
const sha = repo.commit(Math.floor(commits / 5))

const baseline = process.env.BASELINE_BINARY

const ours = async (home: string, from = url, extra: Record<string, string> = {}, bin = binary): Promise<void> => {
  if (useBinary) {
    const result = Bun.spawnSync([bin, "run", from, "-v", sha, "--env-manager", "local"], {
      cwd: work,
      env: { ...process.env, ...extra, MLPROJECT_HOME: home, MLFLOW_TRACKING_URI: `file://${join(work, "mlruns")}` },
      stdout: "ignore",
      stderr: "pipe",
    })
    if (result.exitCode !== 0) throw new Error(`mlproject run failed: ${result.stderr.toString()}`)
    return
  }
  const source = await resolveSource({ uri: from, version: sha, cwd: work, emit: () => {}, env: { ...process.env, ...extra, MLPROJECT_HOME: home } })
  await source.cleanup()
}

const handBaseline = "(a) git init + fetch --depth 1 + checkout"
// A function: the git section may fall back to the in-process fetch, where a binary baseline means nothing.
const baselineColdName = (): string | null => (baseline && useBinary ? "baseline binary, cold cache" : null)

/** The goal lines of a section: ours cold and cached against the by-hand fetch of the same rounds. */
const goals = (transport: string, medians: Map<string, number>): void => {
  const base = medians.get(handBaseline) ?? NaN
  for (const [name, limit] of [["ours, cold cache", 1.1], ["ours, cached", 0.3]] as const) {
    const ratio = (medians.get(name) ?? NaN) / base
    console.log(`goal: ≤ ${limit}× the by-hand fetch, ${name}, ${transport}: ${ratio.toFixed(2)}× ${ratio <= limit ? "met" : "NOT met"}`)
  }
}

const fetchByHand = (from: string, env?: Record<string, string | undefined>) =>
  shell(`d=$(mktemp -d) && git init -q "$d" && git -C "$d" fetch -q --depth 1 ${from} ${sha} && git -C "$d" -c advice.detachedHead=false checkout -q FETCH_HEAD; rc=$?; rm -rf "$d"; exit $rc`, env)
const byHand = fetchByHand(url)
const fullClone = shell(`d=$(mktemp -d) && git clone -q ${url} "$d/c" && git -C "$d/c" -c advice.detachedHead=false checkout -q ${sha}; rc=$?; rm -rf "$d"; exit $rc`)

/** The same commit over ssh://: a throwaway sshd, a client home with its key and known_hosts; ours against by hand. */
const overSsh = async (): Promise<void> => {
  if (!sshAvailable) return void console.log("ssh: sshd, ssh-agent or libnss-wrapper is missing: section skipped")
  await using server = await sshd()
  await using client = await sshHome(server, { key: "default" })
  const sshUrl = `ssh://${server.user}@127.0.0.1:${server.port}${repo.path}`
  const env = { ...process.env, ...client.env }
  const warmHome = join(work, "warm-home-ssh")
  await ours(warmHome, sshUrl, client.env)
  const baselineCold = baselineColdName()
  const samples: Record<string, number[]> = { [handBaseline]: [], "ours, cold cache": [], "ours, cached": [], ...(baselineCold ? { [baselineCold]: [] } : {}) }
  const byHandSsh = fetchByHand(sshUrl, env)
  for (let i = 0; i < rounds + 2; i++) {
    const coldHome = mkdtempSync(join(work, "cold-ssh-"))
    const baseHome = mkdtempSync(join(work, "cold-ssh-base-"))
    const round = [
      await timed(byHandSsh),
      await timed(() => ours(coldHome, sshUrl, client.env)),
      await timed(() => ours(warmHome, sshUrl, client.env)),
      await timed(() => (baselineCold ? ours(baseHome, sshUrl, client.env, baseline) : undefined)),
    ]
    rmSync(coldHome, { recursive: true, force: true })
    rmSync(baseHome, { recursive: true, force: true })
    if (i < 2) continue
    Object.values(samples).forEach((list, j) => list.push(round[j] as number))
  }
  const medians = new Map(Object.entries(samples).map(([name, values]) => [name, median(values)]))
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores`)
  report(`fetch of commit ${Math.floor(commits / 5)} of ${commits} over ssh:// (OpenSSH on 127.0.0.1), median of ${rounds} interleaved rounds`, medians, handBaseline, {
    "ours, cold cache": "<= 1.1x (a)",
    "ours, cached": "<= 0.3x (a)",
  })
  goals("ssh://", medians)
}

/** The git:// section: ours against by hand and a full clone, plus a run of a local folder for our own overhead. */
const overGitDaemon = async (): Promise<void> => {
  const warmHome = join(work, "warm-home")
  await ours(warmHome).catch(async (error) => {
    if (!useBinary) throw error
    console.log(`dist/mlproject cannot run this yet (${(error as Error).message.split("\n").at(-1)}); measuring resolveSource in-process`)
    useBinary = false
    await ours(warmHome)
  })
  // With the binary, the same project run from a local folder separates our run overhead from the fetch.
  const local = join(work, "local-checkout")
  Bun.spawnSync(["git", "clone", "-q", repo.path, local])
  Bun.spawnSync(["git", "-C", local, "checkout", "-q", sha])
  const inPlace = async (): Promise<void> => {
    if (!useBinary) return
    const result = Bun.spawnSync([binary, "run", local, "--env-manager", "local"], { cwd: work, env: { ...process.env, MLFLOW_TRACKING_URI: `file://${join(work, "mlruns")}` }, stdout: "ignore" })
    if (result.exitCode !== 0) throw new Error("mlproject run of the local checkout failed")
  }
  const baselineCold = baselineColdName()
  const samples: Record<string, number[]> = {
    [handBaseline]: [],
    "(b) git clone + checkout": [],
    "ours, cold cache": [],
    "ours, cached": [],
    ...(useBinary ? { "(run of a local folder, no fetch)": [] } : {}),
    ...(baselineCold ? { [baselineCold]: [] } : {}),
  }
  for (let i = 0; i < rounds + 2; i++) {
    const coldHome = mkdtempSync(join(work, "cold-"))
    const baseHome = mkdtempSync(join(work, "cold-base-"))
    const round = [
      await timed(byHand),
      await timed(fullClone),
      await timed(() => ours(coldHome)),
      await timed(() => ours(warmHome)),
      await timed(inPlace),
      await timed(() => (baselineCold ? ours(baseHome, url, {}, baseline) : undefined)),
    ]
    rmSync(coldHome, { recursive: true, force: true })
    rmSync(baseHome, { recursive: true, force: true })
    // The first two rounds warm the page cache and the daemon.
    if (i < 2) continue
    Object.values(samples).forEach((list, j) => list.push(round[j] as number))
  }
  const medians = new Map(Object.entries(samples).map(([name, values]) => [name, median(values)]))
  const what = useBinary ? "`mlproject run <git://…> -v <sha>` (binary, includes start-up and tracking)" : "resolveSource() + cleanup() in-process (no binary)"
  // Other work on the machine skews the file-copy share of these numbers most: say how busy it was.
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores`)
  report(`fetch of commit ${Math.floor(commits / 5)} of ${commits} over git daemon, median of ${rounds} interleaved rounds; ours = ${what}`, medians, handBaseline, {
    "ours, cold cache": "<= 1.1x (a)",
    "ours, cached": "<= 0.3x (a)",
  })
  goals("git://", medians)
}

try {
  if (only !== "ssh") await overGitDaemon()
  if (only !== "git") await overSsh()
} finally {
  await daemon[Symbol.asyncDispose]()
  rmSync(work, { recursive: true, force: true })
}

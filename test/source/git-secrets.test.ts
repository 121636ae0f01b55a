// A credential in a Git URL, through the binary: never in any process's argv during the fetch, nor in the cache or the run's copy.
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { join } from "node:path"
import { binary, liveCli } from "../lib/cli.ts"
import { gitRepo, type GitRepo } from "../lib/git.ts"
import { gitHttp } from "../lib/git-http.ts"
import { encodings, filesWith, scanProcesses, type Seen } from "../lib/secrets.ts"
import { tmpdirFor } from "../lib/tmp.ts"

// The entry point copies its working folder (and its environment) out, so the test can search what the run got.
const mlproject = `name: secret
entry_points:
  main:
    parameters:
      out: {type: string}
    command: "mkdir -p {out} && cp -a . {out}/copy && env > {out}/env.txt"
`

let repo: GitRepo

beforeAll(() => {
  repo = gitRepo({ commits: 20, files: { MLproject: mlproject } })
})

afterAll(async () => {
  await repo[Symbol.asyncDispose]()
})

/** Runs `uri` while scanning every process's command line, until the binary exits. */
const runWatched = async (work: string, uri: string, needles: string[]) => {
  const home = join(work, "home")
  const out = join(work, "out")
  const args = ["run", uri, "-P", `out=${out}`, "--json"]
  const run = liveCli(args, { cwd: work, env: { MLPROJECT_HOME: home } })
  const leaking = new Map<number, Seen>()
  const gits = new Map<number, Seen>()
  let done = false
  const finished = run.finished.then((code) => ((done = true), code))
  // Whatever git runs for the fetch (ls-remote, fetch, remote-http, index-pack) talks to our port while the server is slow.
  const isGit = (argv: string[]) => /(^|\/)git(-remote-https?)?$/.test(argv[0] ?? "") || (argv[0] ?? "").startsWith("git")
  while (!done) {
    const seen = scanProcesses(needles, [binary, ...args], isGit)
    for (const s of seen.leaking) leaking.set(s.pid, s)
    for (const s of seen.watched) gits.set(s.pid, s)
    await Bun.sleep(20)
  }
  const code = await finished
  return { code, events: run.events, stderr: run.stderr(), leaking: [...leaking.values()], gits: [...gits.values()], files: [...filesWith(home, needles), ...filesWith(out, needles)], out }
}

type Credential = { user: string; password?: string; raw?: string }

describe("a credential in a Git URL stays out of argv, the fetch cache and the working copy", () => {
  test.each([
    ["a short token alone", { user: "Tk7Qz9Wb" }, "Tk7Qz9Wb"],
    ["user:password with a percent-encoded '@'", { user: "alice", password: "p@ssW0rd-xyz", raw: "alice:p%40ssW0rd-xyz" }, "alice:p%40ssW0rd-xyz"],
    ["oauth2:TOKEN", { user: "oauth2", password: "glpat-Sh0rtT0k" }, "oauth2:glpat-Sh0rtT0k"],
  ] as Array<[string, Credential, string]>)("%s", async (_, credential, userinfo) => {
    await using work = tmpdirFor("mlproject-secret-run-")
    await using server = gitHttp(repo.base, { auth: { user: credential.user, password: credential.password ?? "" }, delayMs: 300 })
    const port = new URL(server.url).port
    const uri = `${server.url.replace("http://", `http://${userinfo}@`)}/repo.git`
    const needles = encodings(credential)
    const result = await runWatched(work.path, uri, needles)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.events.at(-1)).toMatchObject({ type: "run.finished", status: "FINISHED" })
    // The server saw the credential, so it did travel: in git's environment, not its argv.
    expect(server.requests.some((r) => r.authorized && r.path.endsWith("git-upload-pack"))).toBe(true)
    // The scan saw git at work (several processes talking to the slow server), and none of them showed the credential.
    expect(result.gits.filter((g) => g.argv.join(" ").includes(port)).length).toBeGreaterThan(0)
    expect(result.leaking).toEqual([])
    // Nothing under MLPROJECT_HOME (cache, pool, run records) nor the run's working copy (its .git/config) or environment.
    expect(result.files).toEqual([])
    expect(await Bun.file(join(result.out, "copy", ".git", "config")).text()).toContain(`url = "${server.url}/repo.git"`)
    expect(JSON.stringify(result.events)).not.toContain(credential.password ?? credential.user)
  }, 60_000)
})

// A real `git daemon` on 127.0.0.1 serving a folder of bare repositories, counting the requests it receives.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { stopGroup } from "./stop-group.ts"
import { freePort } from "./git.ts"

export type GitDaemon = {
  /** `git://127.0.0.1:<port>`; append `/<repo>.git`. */
  url: string
  /** Upload-pack requests (ls-remote and fetch each make one) seen so far (after the daemon's log has caught up). */
  requests(): Promise<number>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * The daemon logs to a file, never to a pipe of ours: a caller blocked in Bun.spawnSync (a benchmark) reads no pipe,
 * and a daemon whose log write blocks stops serving, so the fetch it answers hangs.
 */
export const gitDaemon = async (basePath: string): Promise<GitDaemon> => {
  const logDir = mkdtempSync(join(tmpdir(), "mlproject-git-daemon-"))
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort()
    const logFile = join(logDir, `daemon-${attempt}.log`)
    const child = Bun.spawn(
      ["git", "daemon", `--base-path=${basePath}`, "--export-all", "--reuseaddr", "--verbose", `--port=${port}`, "--listen=127.0.0.1", basePath],
      { stdin: "ignore", stdout: "ignore", stderr: Bun.file(logFile), detached: true },
    )
    const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "")
    const deadline = Date.now() + 5000
    while (!log().includes("Ready to rumble") && child.exitCode === null && Date.now() < deadline) await Bun.sleep(10)
    if (!log().includes("Ready to rumble")) {
      child.kill()
      await child.exited
      continue
    }
    return {
      url: `git://127.0.0.1:${port}`,
      requests: async () => {
        // The daemon logs each request before serving it; give a request just made the time to reach the file.
        await Bun.sleep(60)
        return (log().match(/Request upload-pack for/g) ?? []).length
      },
      async [Symbol.asyncDispose]() {
        await stopGroup(child)
        rmSync(logDir, { recursive: true, force: true })
      },
    }
  }
  rmSync(logDir, { recursive: true, force: true })
  throw new Error("git daemon did not start")
}

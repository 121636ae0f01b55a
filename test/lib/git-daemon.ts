// A real `git daemon` on 127.0.0.1 serving a folder of bare repositories, counting the requests it receives.
import { stopGroup } from "./stop-group.ts"
import { freePort } from "./git.ts"

export type GitDaemon = {
  /** `git://127.0.0.1:<port>`; append `/<repo>.git`. */
  url: string
  /** Upload-pack requests (ls-remote and fetch each make one) seen so far (after the daemon's log has caught up). */
  requests(): Promise<number>
  [Symbol.asyncDispose](): Promise<void>
}

export const gitDaemon = async (basePath: string): Promise<GitDaemon> => {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort()
    const child = Bun.spawn(
      ["git", "daemon", `--base-path=${basePath}`, "--export-all", "--reuseaddr", "--verbose", `--port=${port}`, "--listen=127.0.0.1", basePath],
      { stdin: "ignore", stdout: "ignore", stderr: "pipe", detached: true },
    )
    let log = ""
    let ready: (ok: boolean) => void = () => {}
    const readyPromise = new Promise<boolean>((resolve) => (ready = resolve))
    void (async () => {
      const decoder = new TextDecoder()
      for await (const chunk of child.stderr) {
        log += decoder.decode(chunk, { stream: true })
        if (log.includes("Ready to rumble")) ready(true)
      }
      ready(false)
    })()
    const timer = setTimeout(() => ready(false), 5000)
    const ok = await readyPromise
    clearTimeout(timer)
    if (!ok) {
      child.kill()
      continue
    }
    return {
      url: `git://127.0.0.1:${port}`,
      requests: async () => {
        // The daemon logs each request before serving it, but our reader may not have read the line yet.
        await Bun.sleep(60)
        return (log.match(/Request upload-pack for/g) ?? []).length
      },
      async [Symbol.asyncDispose]() {
        await stopGroup(child)
      },
    }
  }
  throw new Error("git daemon did not start")
}

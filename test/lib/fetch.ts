// Calls resolveSource the way the run core does, with a private MLPROJECT_HOME per test, and collects its events.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import type { Event } from "../../src/events/event.ts"
import { resolveSource, type ProjectSource, type SourceRequest } from "../../src/source/index.ts"

export type Home = { path: string; env: Record<string, string | undefined>; [Symbol.asyncDispose](): Promise<void> }

/** A fresh MLPROJECT_HOME (an empty fetch cache). */
export const home = (): Home => {
  const path = mkdtempSync(join(tmpdir(), "mlproject-home-"))
  return {
    path,
    env: { ...process.env, MLPROJECT_HOME: path },
    async [Symbol.asyncDispose]() {
      rmSync(path, { recursive: true, force: true })
    },
  }
}

export type Fetched = { source: ProjectSource; events: Event[] }

export const fetchSource = async (h: Home, uri: string, options: Partial<SourceRequest> = {}): Promise<Fetched> => {
  const events: Event[] = []
  const source = await resolveSource({ uri, cwd: tmpdir(), emit: (e) => events.push(e), ...options, env: { ...h.env, ...options.env } })
  return { source, events }
}

/** The ToolError a fetch fails with (fails the test when it succeeds or throws something else). */
export const fetchError = async (h: Home, uri: string, options: Partial<SourceRequest> = {}): Promise<ToolError & { events: Event[] }> => {
  const events: Event[] = []
  try {
    const source = await resolveSource({ uri, cwd: tmpdir(), emit: (e) => events.push(e), ...options, env: { ...h.env, ...options.env } })
    await source.cleanup()
  } catch (error) {
    if (error instanceof ToolError) return Object.assign(error, { events })
    throw error
  }
  throw new Error(`expected ${uri} to fail`)
}

/** Every file under `dir` (recursively) whose content contains `needle`. */
export const filesContaining = (dir: string, needle: string): string[] => {
  const found: string[] = []
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const path = join(current, name)
      const stat = statSync(path, { throwIfNoEntry: false })
      if (!stat) continue
      if (name.includes(needle)) found.push(path)
      if (stat.isDirectory()) walk(path)
      else if (stat.isFile() && readFileSync(path).includes(needle)) found.push(path)
    }
  }
  walk(dir)
  return found
}

/** Folders and files under the cache's scratch places that a finished or failed fetch must not leave behind. */
export const leftovers = (h: Home): string[] => {
  const projects = join(h.path, "projects")
  const out: string[] = []
  const scan = (dir: string, depth: number) => {
    for (const name of safeList(dir)) {
      const path = join(dir, name)
      if (name.includes(".tmp-") || name.endsWith(".lock") || name.endsWith(".download") || name.endsWith(".tar.gz")) out.push(path)
      if (depth > 0 && statSync(path, { throwIfNoEntry: false })?.isDirectory()) scan(path, depth - 1)
    }
  }
  scan(projects, 2)
  for (const name of safeList(join(projects, "runs"))) out.push(join(projects, "runs", name))
  return out
}

const safeList = (dir: string): string[] => {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** Leftovers once background deletions of working copies (`*.trash`, removed by a detached rm) have finished. */
export const leftoversAfterCleanup = async (h: Home): Promise<string[]> => {
  for (let waited = 0; waited < 5000; waited += 25) {
    if (!leftovers(h).some((path) => path.endsWith(".trash"))) break
    await Bun.sleep(25)
  }
  return leftovers(h)
}

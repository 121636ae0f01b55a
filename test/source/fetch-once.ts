// Helper process for the concurrency test: resolves one source and prints its result as JSON (argv: uri version).
import { resolveSource } from "../../src/source/index.ts"

const [uri, version] = process.argv.slice(2)
const events: unknown[] = []
const source = await resolveSource({ uri: uri as string, version, cwd: process.cwd(), emit: (e) => events.push(e) })
console.log(JSON.stringify({ dir: source.dir, git: source.git, events }))
await source.cleanup()

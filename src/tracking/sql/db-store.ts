// Opens a database store for a tracking URI: parse, connect (with backoff), check or create the schema, map failures.
import { resolve } from "node:path"
import { isToolError } from "../../errors.ts"
import type { Store } from "../types.ts"
import { openDb, type DbClient } from "./db-client.ts"
import { dbFailure, isConnectionFailure } from "./db-errors.ts"
import { ensureSchema } from "./db-schema.ts"
import { parseDbUri, targetPlace, type DbTarget } from "./db-uri.ts"
import { createSqlStore } from "./sql-store.ts"
import { callStore, storeOf } from "../store-methods.ts"

type Env = Readonly<Record<string, string | undefined>>

const open = new Set<DbClient>()

/** Closes every database connection this process opened: an idle server connection must not hold the exit. */
export const closeDbStores = async (): Promise<void> => {
  const clients = [...open]
  open.clear()
  await Promise.allSettled(clients.map((client) => client.close()))
}

/** Waits between attempts at an unreachable server: 0.5 s, 1 s, 2 s, … (MLPROJECT_DB_RETRIES attempts after the first). */
const retryDelays = (env: Env): number[] => {
  const retries = Number(env.MLPROJECT_DB_RETRIES ?? 3)
  const count = Number.isInteger(retries) && retries >= 0 && retries <= 10 ? retries : 3
  return Array.from({ length: count }, (_, i) => 500 * 2 ** i)
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms))

/** One call, retried while the server cannot be reached (each call is one transaction, so a retry repeats nothing written). */
const withRetries = async <T>(target: DbTarget, delays: readonly number[], what: string, fn: () => Promise<T>): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      const delay = delays[attempt]
      if (isToolError(error) || target.dialect === "sqlite" || delay === undefined || !isConnectionFailure(error)) throw dbFailure(error, target, what)
      await sleep(delay)
    }
  }
}

export const openDbStore = (uri: string, env: Env, cwd: string = process.cwd()): Store => {
  const target = parseDbUri(uri, cwd)
  const place = targetPlace(target)
  const delays = retryDelays(env)
  let store: Promise<Store> | null = null
  const ready = (): Promise<Store> =>
    (store ??= withRetries(target, delays, "opening the database", async () => {
      const client = await openDb(target)
      open.add(client)
      try {
        const schema = await ensureSchema(client, place)
        // MLflow's default artifact root for a database store: ./mlruns of the process that opens it, made absolute.
        return createSqlStore({ client, schema, artifactRoot: resolve(cwd, "mlruns"), place })
      } catch (error) {
        open.delete(client)
        await client.close().catch(() => undefined)
        throw error
      }
    }).catch((error) => {
      store = null
      throw error
    }))
  return storeOf(place, (method, args) => withRetries(target, delays, method, async () => callStore(await ready(), method, args)), true)
}

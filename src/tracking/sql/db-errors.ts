// What a database client's failure means for the user: unreachable, refused credentials, not a database, busy, and so on.
import { isToolError, ToolError } from "../../errors.ts"
import type { DbTarget } from "./db-uri.ts"
import { targetPlace } from "./db-uri.ts"
import { redactText, secretsOf } from "../../util/redact.ts"

type Failure = { code?: unknown; errno?: unknown; message?: unknown; cause?: unknown }

const fields = (error: unknown): { code: string; errno: string; message: string } => {
  const e = (error ?? {}) as Failure
  return { code: String(e.code ?? ""), errno: String(e.errno ?? ""), message: String(e.message ?? error) }
}

/** A unique or primary-key violation: another writer inserted the same row first. */
export const isUniqueViolation = (error: unknown): boolean => {
  const { code, errno, message } = fields(error)
  return (
    code === "SQLITE_CONSTRAINT_UNIQUE" ||
    code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    errno === "23505" ||
    code === "23505" ||
    errno === "1062" ||
    /duplicate key value|Duplicate entry|UNIQUE constraint failed/i.test(message)
  )
}

/** A failure to reach the server at all (refused, reset, timed out, DNS): worth retrying with backoff. */
export const isConnectionFailure = (error: unknown): boolean => {
  const { code, message } = fields(error)
  return (
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code) ||
    /CONNECTION_(CLOSED|TIMEOUT|REFUSED)|ERR_(POSTGRES|MYSQL)_(CONNECTION|IDLE|LIFETIME)/.test(code) ||
    /connection (refused|closed|reset|timed out)|failed to connect|ECONNREFUSED|timed out|Connection closed/i.test(message)
  )
}

const authFailure = (error: unknown): boolean => {
  const { code, errno, message } = fields(error)
  return (
    errno === "28P01" ||
    errno === "28000" ||
    errno === "1045" ||
    code === "ERR_POSTGRES_AUTHENTICATION_FAILED_PBKDF2" ||
    /password authentication failed|Access denied for user|authentication failed|no pg_hba\.conf entry/i.test(message)
  )
}

const unknownDatabase = (error: unknown): boolean => {
  const { errno, message } = fields(error)
  // MySQL answers 1044 (access denied to that database) for a database that does not exist and one the user may not use.
  return errno === "3D000" || errno === "1049" || errno === "1044" || /database "[^"]*" does not exist|Unknown database/i.test(message)
}

/** Never the password: a message of a server client may quote the connection string it was given. */
const scrub = (text: string, target: DbTarget): string =>
  target.dialect === "sqlite" ? text : redactText(text, secretsOf({ user: target.user, password: target.password }))

/** The ToolError for a failure of a database store; ToolErrors (our own checks) pass through as they are. */
export const dbFailure = (error: unknown, target: DbTarget, what: string): unknown => {
  if (isToolError(error)) return error
  const place = targetPlace(target)
  const { code, message } = fields(error)
  const said = scrub(message, target)
  if (target.dialect === "sqlite") {
    if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
      return new ToolError("tracking.db.invalid", `Tracking database ${place} is not a sqlite database (${said})`, {
        hint: "point MLFLOW_TRACKING_URI at an MLflow sqlite file, or at a path where a new one may be created",
        exitCode: 2,
        cause: error,
      })
    if (code === "SQLITE_READONLY" || code.startsWith("SQLITE_READONLY"))
      return new ToolError("tracking.db.read_only", `Tracking database ${place} is read-only: ${what} cannot write to it`, {
        hint: `make ${place} and its folder writable (sqlite writes its journal, ${place}-journal, beside it)`,
        exitCode: 2,
        cause: error,
      })
    if (code === "SQLITE_CANTOPEN")
      return new ToolError("tracking.db.open", `Tracking database ${place} cannot be opened (${said})`, {
        hint: "check that its folder exists and that you may read and write it",
        exitCode: 2,
        cause: error,
      })
    if (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED")
      return new ToolError("tracking.db.busy", `Tracking database ${place} stayed locked by another process: ${what} gave up waiting`, {
        hint: "another program holds a long write transaction on it; wait for it to end and try again",
        exitCode: 1,
        cause: error,
      })
    if (code === "SQLITE_FULL")
      return new ToolError("tracking.disk_full", `Tracking database ${place}: ${what} failed: no space left on the device`, {
        hint: `free space on the filesystem holding ${place}; the transaction was rolled back, so the database holds what it held before`,
        exitCode: 1,
        cause: error,
      })
  } else {
    if (authFailure(error))
      return new ToolError("tracking.db.auth", `Tracking database ${place} refused the credentials (${said})`, {
        hint: "check the user name and password in MLFLOW_TRACKING_URI (reserved characters written as %XX)",
        exitCode: 2,
        cause: error,
      })
    if (unknownDatabase(error))
      return new ToolError("tracking.db.open", `Tracking database ${place} does not exist on the server, or the user may not use it (${said})`, {
        hint: `create it first (PostgreSQL: createdb ${target.database}; MySQL: CREATE DATABASE ${target.database})`,
        exitCode: 2,
        cause: error,
      })
    if (isConnectionFailure(error))
      return new ToolError("tracking.unreachable", `Tracking database ${target.host}:${target.port} (${target.dialect}) cannot be reached: ${said}`, {
        hint: "check that the server runs and accepts TCP connections from this machine (host, port, firewall)",
        exitCode: 1,
        cause: error,
      })
  }
  return new ToolError("tracking.db.error", `Tracking database ${place}: ${what} failed: ${said}`, { exitCode: 1, cause: error })
}

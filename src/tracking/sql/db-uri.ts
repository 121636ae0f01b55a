// Database tracking URIs as SQLAlchemy (and so MLflow) reads them: sqlite file paths, server addresses, credentials.
import { isAbsolute, resolve } from "node:path"
import { ToolError } from "../../errors.ts"
import { redactUrl } from "../../util/redact.ts"

export type Dialect = "sqlite" | "postgresql" | "mysql"

export type SqliteTarget = { dialect: "sqlite"; path: string; query: Record<string, string> }
export type ServerTarget = {
  dialect: "postgresql" | "mysql"
  host: string
  port: number
  user: string
  password: string
  database: string
  query: Record<string, string>
}
export type DbTarget = SqliteTarget | ServerTarget

const defaultPorts = { postgresql: 5432, mysql: 3306 } as const
const dialects: Readonly<Record<string, Dialect>> = { sqlite: "sqlite", postgresql: "postgresql", postgres: "postgresql", mysql: "mysql", mariadb: "mysql" }

/** A database URI's scheme before any `+driver` (`postgresql+psycopg2` → postgresql); null for another kind of URI. */
export const dbDialect = (uri: string): Dialect | null => {
  const scheme = /^([a-zA-Z][a-zA-Z0-9.-]*)(?:\+[a-zA-Z0-9_.-]*)?:\/\//.exec(uri)?.[1]?.toLowerCase()
  return scheme === undefined ? null : (dialects[scheme] ?? null)
}

const bad = (uri: string, reason: string, hint: string): ToolError =>
  new ToolError("tracking.uri.invalid", `Tracking URI ${redactUrl(uri)}: ${reason}`, { hint, exitCode: 2 })

const decode = (uri: string, text: string, what: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    throw bad(uri, `the ${what} has a malformed %-escape`, "write reserved characters of a user name or password as %XX (for example @ as %40, : as %3A)")
  }
}

const parseQuery = (uri: string, text: string): Record<string, string> => {
  const query: Record<string, string> = Object.create(null)
  for (const part of text.split("&")) {
    if (part === "") continue
    const at = part.indexOf("=")
    query[decode(uri, at === -1 ? part : part.slice(0, at), "query")] = at === -1 ? "" : decode(uri, part.slice(at + 1), "query")
  }
  return query
}

/**
 * SQLAlchemy's URL grammar: `dialect[+driver]://[user[:password]@]host[:port]/database[?k=v&…]`. For sqlite the path
 * after `sqlite:///` is the file, relative to `cwd` (`sqlite:////abs.db` is absolute). The in-memory database is refused:
 * the entry point is another process and could never see it.
 */
export const parseDbUri = (uri: string, cwd: string): DbTarget => {
  const dialect = dbDialect(uri)
  if (dialect === null) throw bad(uri, "is not a sqlite://, postgresql:// or mysql:// URI", "write it as sqlite:///mlflow.db, postgresql://user:password@host:5432/db or mysql://user:password@host:3306/db")
  const rest = uri.slice(uri.indexOf("://") + 3)
  const hash = rest.indexOf("#")
  const withoutFragment = hash === -1 ? rest : rest.slice(0, hash)
  const q = withoutFragment.indexOf("?")
  const main = q === -1 ? withoutFragment : withoutFragment.slice(0, q)
  const query = parseQuery(uri, q === -1 ? "" : withoutFragment.slice(q + 1))
  if (dialect === "sqlite") return sqliteTarget(uri, main, query, cwd)
  return serverTarget(uri, dialect, main, query)
}

const sqliteTarget = (uri: string, main: string, query: Record<string, string>, cwd: string): SqliteTarget => {
  if (main === "") throw bad(uri, "names an in-memory database, which the entry point (another process) could never see", "name a file: sqlite:///mlflow.db")
  if (!main.startsWith("/")) throw bad(uri, "a sqlite URI has no host part", "write sqlite:///relative/path.db or sqlite:////absolute/path.db")
  const file = decode(uri, main.slice(1), "path")
  if (file === "" || file === ":memory:")
    throw bad(uri, "names an in-memory database, which the entry point (another process) could never see", "name a file: sqlite:///mlflow.db")
  return { dialect: "sqlite", path: isAbsolute(file) ? file : resolve(cwd, file), query }
}

const serverTarget = (uri: string, dialect: "postgresql" | "mysql", main: string, query: Record<string, string>): ServerTarget => {
  const slash = main.indexOf("/")
  const authority = slash === -1 ? main : main.slice(0, slash)
  const database = slash === -1 ? "" : decode(uri, main.slice(slash + 1), "database name")
  const at = authority.lastIndexOf("@")
  const credentials = at === -1 ? "" : authority.slice(0, at)
  const address = at === -1 ? authority : authority.slice(at + 1)
  const colon = credentials.indexOf(":")
  const user = decode(uri, colon === -1 ? credentials : credentials.slice(0, colon), "user name")
  const password = colon === -1 ? "" : decode(uri, credentials.slice(colon + 1), "password")
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(address)
  const hostText = bracketed ? bracketed[1]! : address.split(":")[0]!
  const portText = bracketed ? bracketed[2] : address.includes(":") ? address.slice(address.indexOf(":") + 1) : undefined
  const host = decode(uri, hostText, "host") || (query.host ?? "")
  if (host === "") throw bad(uri, "names no host", `write ${dialect}://user:password@HOST:${defaultPorts[dialect]}/database`)
  if (database === "" || database.includes("/")) throw bad(uri, "names no database (the path after the host)", `write ${dialect}://user:password@${host}:${defaultPorts[dialect]}/DATABASE`)
  const port = portText === undefined || portText === "" ? defaultPorts[dialect] : Number(portText)
  if (!/^\d{1,5}$/.test(portText ?? "0") || !Number.isInteger(port) || port < 1 || port > 65535)
    throw bad(uri, `port '${portText}' is not a number from 1 to 65535`, `the default port of ${dialect} is ${defaultPorts[dialect]}`)
  return { dialect, host, port, user: user || (query.user ?? ""), password: password || (query.password ?? ""), database, query }
}

/** The place a target names, for messages: never a credential. */
export const targetPlace = (target: DbTarget): string =>
  target.dialect === "sqlite" ? target.path : `${target.dialect}://${target.user ? `${target.user}@` : ""}${target.host}:${target.port}/${target.database}`

/** The URI an entry point gets: the same database, a sqlite path made absolute (its working folder differs). */
export const childDbUri = (uri: string, target: DbTarget): string => {
  if (target.dialect !== "sqlite") return uri
  const q = uri.indexOf("?")
  return `${uri.slice(0, uri.indexOf("://"))}:///${target.path}${q === -1 ? "" : uri.slice(q)}`
}

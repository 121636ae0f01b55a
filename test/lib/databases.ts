// Throwaway PostgreSQL and MariaDB servers on 127.0.0.1 for the database-store tests, each copied from a cached pristine data dir.
import { createHash, randomBytes } from "node:crypto"
import { accessSync, chmodSync, constants, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./git.ts"

export type DbServer = {
  kind: "postgres" | "mariadb"
  /** `postgresql://user:password@127.0.0.1:PORT/database` or `mysql://…`; every part is URL-safe as it stands. */
  uri: string
  host: "127.0.0.1"
  port: number
  user: string
  password: string
  database: string
  /** The server's version, e.g. `15.18` or `10.11.19`. */
  version: string
  /** Creates an empty database that `user` owns (PostgreSQL) or holds every privilege on (MariaDB); returns its URI. */
  newDatabase(name: string): Promise<string>
  /** Runs statements one by one as the superuser over the server's unix socket; returns the rows, tab-separated. */
  admin(...statements: string[]): Promise<string>
  /** Stops the server and removes its folder. Also happens by itself when the test process ends, however it ends. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

type Account = { name: string; uid: number; gid: number }

/** A server kind: where its programs are, how to build a pristine data dir, how to run it and talk to it as admin. */
type Spec = {
  kind: DbServer["kind"]
  scheme: string
  /** The server's `--version` line: part of the pristine data dir's cache key. */
  version: string
  /** The server's user when we are root and the server refuses root (PostgreSQL): data and sockets belong to it. */
  owner: Account | null
  initArgv(dataDir: string): string[]
  serverArgv(run: string, port: number): string[]
  /** The log line that says the server accepts connections. */
  ready: string
  /** PostgreSQL's immediate shutdown (SIGQUIT) takes its shared memory along; MariaDB keeps nothing worth a clean stop. */
  stopSignal: "QUIT" | "KILL"
  adminArgv(run: string, port: number, statements: string[]): string[]
  createUser(user: string, password: string): string[]
  createDatabase(user: string, database: string): string[]
}

const ci = Boolean(process.env.CI)
const uid = process.getuid?.() ?? 0
const isRoot = uid === 0
const postgresMissing = `PostgreSQL's initdb, postgres and psql${isRoot ? " (and a postgres user to run them as)" : ""} were not found`
const mariadbMissing = "MariaDB's mariadbd, mariadb-install-db and mariadb were not found"
const skipped = (missing: string, name: string) => `${missing}: ${name} tests skipped (run \`bash scripts/ci/db-setup.sh\` as root; CI always runs them)`
export const postgresSkipReason = skipped(postgresMissing, "PostgreSQL")
export const mariadbSkipReason = skipped(mariadbMissing, "MariaDB")

/** The passwd entry with this name or uid (the server's user; our own name, which MariaDB's socket login checks). */
const account = (key: string | number): Account | null => {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid, gid] = line.split(":")
    if (name && uid && gid && (name === key || Number(uid) === key)) return { name, uid: Number(uid), gid: Number(gid) }
  }
  return null
}
const sbin = `${process.env.PATH ?? "/usr/bin:/bin"}:/usr/local/sbin:/usr/sbin:/sbin`
const which = (name: string, path = sbin): string | null => Bun.which(name, { PATH: path })
// The clients and servers see none of the caller's PG*/MYSQL* settings, nor its option files.
const cleanEnv = { PATH: sbin, LC_ALL: "C" }

const exec = async (argv: string[], cwd?: string): Promise<string> => {
  const child = Bun.spawn(argv, { cwd, env: cleanEnv, stdin: "ignore", stdout: "pipe", stderr: "pipe" })
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited])
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${code}):\n${err || out}`)
  return out
}
/** `postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`, `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu …` */
const versionOf = (binary: string): string =>
  Bun.spawnSync([binary, "--version"], { env: cleanEnv }).stdout.toString().trim().replace(/^\S*\//, "")

const postgresSpec = (): Spec | null => {
  // Debian keeps the server programs out of PATH, one folder per major version; elsewhere they are on PATH.
  const debian = existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)) : []
  const dirs = [...debian.sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`), sbin]
  const dir = dirs.find((d) => which("postgres", d) && which("initdb", d))
  const psql = dir && (which("psql", dir) ?? which("psql"))
  if (!dir || !psql) return null
  const owner = isRoot ? account("postgres") : null
  if (isRoot && !owner) return null
  const postgres = which("postgres", dir) as string
  const asOwner = (argv: string[]) => (owner ? ["setpriv", `--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--clear-groups", "--", ...argv] : argv)
  return {
    kind: "postgres",
    scheme: "postgresql",
    version: versionOf(postgres),
    owner,
    initArgv: (data) =>
      asOwner([which("initdb", dir) as string, "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "--encoding=UTF8", "--no-sync", "--no-instructions", "--wal-segsize=1"]),
    // Durability is pointless for data removed at the end of the test; the socket lives in the private run folder.
    serverArgv: (run, port) =>
      asOwner([postgres, "-D", join(run, "data"), "-p", String(port), "-k", run, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "shared_buffers=32MB", "-c", "timezone=UTC"]),
    ready: "database system is ready to accept connections",
    stopSignal: "QUIT",
    adminArgv: (run, port, statements) => [psql, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", run, "-p", String(port), "-U", "postgres", "-d", "postgres", ...statements.flatMap((s) => ["-c", s])],
    createUser: (user, password) => [`CREATE ROLE ${user} LOGIN PASSWORD '${password}'`],
    createDatabase: (user, database) => [`CREATE DATABASE ${database} OWNER ${user}`],
  }
}

const mariadbSpec = (): Spec | null => {
  const [server, install, client] = ["mariadbd", "mariadb-install-db", "mariadb"].map((name) => which(name))
  if (!server || !install || !client) return null
  const admin = account(uid)?.name ?? "root"
  // Debian's packaged configuration uses utf8mb4; --no-defaults would otherwise leave the server on latin1.
  const tuning = ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M", "--innodb-use-native-aio=0", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
  return {
    kind: "mariadb",
    scheme: "mysql",
    version: versionOf(server),
    owner: null,
    // The admin account is the OS user, authenticated by the unix socket: no password exists to guess over TCP.
    initArgv: (data) => [install, "--no-defaults", `--datadir=${data}`, `--user=${admin}`, "--auth-root-authentication-method=socket", `--auth-root-socket-user=${admin}`, "--skip-test-db", ...tuning],
    serverArgv: (run, port) => [
      server, "--no-defaults", `--datadir=${join(run, "data")}`, `--port=${port}`, "--bind-address=127.0.0.1", `--socket=${join(run, "mysqld.sock")}`,
      `--pid-file=${join(run, "mysqld.pid")}`, `--tmpdir=${run}`, "--skip-name-resolve", "--default-time-zone=+00:00", "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", ...tuning,
      ...(isRoot ? ["--user=root"] : []),
    ],
    ready: "ready for connections",
    stopSignal: "KILL",
    adminArgv: (run, _port, statements) => [client, "--no-defaults", "--protocol=socket", `--socket=${join(run, "mysqld.sock")}`, "-u", admin, "--batch", "--skip-column-names", "-e", statements.join(";\n")],
    createUser: (user, password) => [`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`],
    createDatabase: (user, database) => [`CREATE DATABASE ${database}`, `GRANT ALL PRIVILEGES ON ${database}.* TO '${user}'@'%'`],
  }
}

const cacheRoot = join(tmpdir(), `mlproject-db-cache-${uid}`)
/** Partial builds of processes that died while building (a crash skips their cleanup). */
const removeAbandoned = () => {
  for (const name of readdirSync(cacheRoot)) {
    const pid = Number(/\.partial-(\d+)-/.exec(name)?.[1])
    if (pid && !alive(pid)) rmSync(join(cacheRoot, name), { recursive: true, force: true })
  }
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
const pristines = new Map<string, Promise<string>>()

/**
 * initdb and mariadb-install-db take a second or two; their output depends only on the server version and the options,
 * so it is built once per machine under /tmp in a temporary sibling and renamed into place (parallel workers may race).
 */
const pristine = (spec: Spec): Promise<string> => {
  const key = createHash("sha256").update(JSON.stringify([spec.version, spec.initArgv("DATA")])).digest("hex").slice(0, 16)
  const dir = join(cacheRoot, `${spec.kind}-${key}`)
  const existing = pristines.get(dir)
  if (existing) return existing
  const building = (async () => {
    if (existsSync(dir)) return dir
    // Traversable by the server's user, who runs initdb in it; a pristine dir holds no password.
    mkdirSync(cacheRoot, { recursive: true })
    chmodSync(cacheRoot, 0o755)
    removeAbandoned()
    const partial = `${dir}.partial-${process.pid}-${randomBytes(4).toString("hex")}`
    mkdirSync(partial, { mode: 0o700 })
    try {
      if (spec.owner) chownSync(partial, spec.owner.uid, spec.owner.gid)
      await exec(spec.initArgv(partial), partial)
      try {
        renameSync(partial, dir)
      } catch (error) {
        if (!existsSync(dir)) throw error
      }
    } finally {
      rmSync(partial, { recursive: true, force: true })
    }
    return dir
  })()
  pristines.set(dir, building)
  return building
}

// Copies the pristine data dir into the run folder and runs the server until the test process closes this script's stdin
// (stop(), or the process ending in any way), then kills it and removes the folder. It owns the folder from the moment
// mkdtemp made it, so no exit of the test process leaves one behind; a server that exits by itself says so in its log.
const guardian = `
run=$1 data=$2 sig=$3; shift 3
exec 3<&0
status=1
if cp -a "$data" "$run/data" 2>>"$run/server.log"; then
  "$@" </dev/null 3<&- >>"$run/server.log" 2>&1 &
  server=$!
  { read -r _ <&3; kill -s "$sig" "$server" 2>/dev/null; } &
  wait "$server"
  status=$?
fi
echo "mlproject: the server exited with status $status" >>"$run/server.log"
read -r _ <&3
rm -rf -- "$run"
`

// Servers run from memory where Linux offers it: copying a data dir to ext4 and writing to it took up to a second here.
const runRoot = (() => {
  try {
    accessSync("/dev/shm", constants.W_OK)
    return "/dev/shm"
  } catch {
    return tmpdir()
  }
})()

type Launched = { run: string; port: number; stop(): Promise<void> }

const launch = async (spec: Spec, data: string): Promise<Launched> => {
  for (let attempt = 1; ; attempt++) {
    const run = mkdtempSync(join(runRoot, `mlproject-${spec.kind}-`))
    if (spec.owner) chownSync(run, spec.owner.uid, spec.owner.gid)
    const port = freePort()
    const child = Bun.spawn(["bash", "-c", guardian, "db-guardian", run, data, spec.stopSignal, ...spec.serverArgv(run, port)], {
      cwd: run,
      env: cleanEnv,
      stdin: "pipe",
      stdout: "ignore",
      stderr: "ignore",
      // Its own session: a Ctrl-C meant for the tests reaches the guardian only as its stdin closing.
      detached: true,
    })
    child.unref()
    let stopping: Promise<void> | undefined
    const stop = () => (stopping ??= (async () => {
      void child.stdin.end()
      await child.exited
    })())
    const log = join(run, "server.log")
    const deadline = Date.now() + 30_000
    let text = ""
    while (Date.now() < deadline) {
      text = existsSync(log) ? readFileSync(log, "utf8") : ""
      if (text.includes(spec.ready)) return { run, port, stop }
      if (text.includes("mlproject: the server exited")) break
      await Bun.sleep(20)
    }
    await stop()
    if (attempt < 5 && /already in use|Bind on TCP\/IP port/i.test(text)) continue
    throw new Error(`${spec.version} did not start on 127.0.0.1:${port}; its log:\n${text.slice(-4000)}`)
  }
}

const start = async (spec: Spec | null, missing: string, skipReason: string): Promise<DbServer | null> => {
  if (!spec) {
    if (ci) throw new Error(`${missing} under CI=true (.ci/run installs them with \`bash scripts/ci/db-setup.sh\`)`)
    console.warn(`note: ${skipReason}`)
    return null
  }
  const server = await launch(spec, await pristine(spec))
  const admin = (...statements: string[]) => exec(spec.adminArgv(server.run, server.port, statements), server.run)
  const [user, password, database] = ["mlflow", randomBytes(12).toString("hex"), "mlflow"]
  const uriOf = (db: string) => `${spec.scheme}://${user}:${password}@127.0.0.1:${server.port}/${db}`
  try {
    await admin(...spec.createUser(user, password), ...spec.createDatabase(user, database))
  } catch (error) {
    await server.stop()
    throw error
  }
  return {
    kind: spec.kind,
    uri: uriOf(database),
    host: "127.0.0.1",
    port: server.port,
    user,
    password,
    database,
    version: /\d+(\.\d+)+/.exec(spec.version)?.[0] ?? spec.version,
    admin,
    async newDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`newDatabase: '${name}' is not a plain lower-case identifier`)
      await admin(...spec.createDatabase(user, name))
      return uriOf(name)
    },
    stop: server.stop,
    [Symbol.asyncDispose]: server.stop,
  }
}

/** A fresh PostgreSQL server (Debian's /usr/lib/postgresql/N), or null when its programs are absent (an error under CI=true). */
export const startPostgres = (): Promise<DbServer | null> => start(postgresSpec(), postgresMissing, postgresSkipReason)

/** A fresh MariaDB server, or null when its programs are absent (an error under CI=true). */
export const startMariadb = (): Promise<DbServer | null> => start(mariadbSpec(), mariadbMissing, mariadbSkipReason)

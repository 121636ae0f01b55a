// A loopback Databricks workspace on 127.0.0.1: auth, DBFS, Files API, Jobs runs that really execute, secrets, MLflow proxy.
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { auth } from "./databricks-auth.ts"
import { dbfs } from "./databricks-dbfs.ts"
import { filesApi, type Storage } from "./databricks-files.ts"
import { ApiError, missing, params, reply, serve, type WorkspaceFault, type WorkspaceRequest } from "./databricks-http.ts"
import { jobs, methodOf, type WorkspaceRun } from "./databricks-jobs.ts"

export type { WorkspaceFault, WorkspaceRequest } from "./databricks-http.ts"
export type { RunState, WorkspaceRun } from "./databricks-jobs.ts"

export type WorkspaceOptions = {
  /** Accepted personal access tokens (default: one random). */
  tokens?: string[]
  /** client_id → client_secret, for POST /oidc/v1/token. */
  oauthClients?: Record<string, string>
  /** expires_in of issued OAuth tokens (default 3600); expired ones are refused. */
  oauthTokenSeconds?: number
  /** Existing clusters by id (state RUNNING by default; a TERMINATED one starts, PENDING for clusterStartMs, on submit). */
  clusters?: Record<string, { state?: string }>
  /** Existing Unity Catalog volumes, as "catalog/schema/volume". */
  volumes?: string[]
  /** Refuse DBFS paths outside /Volumes, as a workspace with the DBFS root disabled does. */
  dbfsRootDisabled?: boolean
  /** How long a cluster that must start stays PENDING (default 300 ms). */
  clusterStartMs?: number
  /** "scope/key" → value, for GET /api/2.0/secrets/get. */
  secrets?: Record<string, string>
  /** An MLflow tracking server (test/lib/mlflow-server.ts) that /api/2.0/mlflow/* and /api/2.0/mlflow-artifacts/* go to. */
  tracking?: { url: string }
  /** The python that runs tasks (default python3 on PATH). */
  python?: string
  /** Extra environment of task processes; a PATH here replaces the machine's. */
  env?: Record<string, string>
}

export type Workspace = {
  url: string
  /** The first accepted personal access token. */
  token: string
  workspaceId: string
  requests: WorkspaceRequest[]
  /** Recorded calls of one endpoint: "jobs/runs/submit", "dbfs/add-block", "fs/files", "oidc/v1/token", "mlflow/runs/create". */
  calls(endpoint: string): WorkspaceRequest[]
  /** The DBFS root ("dbfs:/" and "/dbfs" on a driver) and /Volumes, on disk. */
  dbfsDir: string
  volumesDir: string
  /** Submitted runs by run id. */
  runs: Map<number, WorkspaceRun>
  /** Resolves when run `runId` has reached a terminal state. */
  settled(runId: number): Promise<WorkspaceRun>
  clusters: Map<string, { state: string }>
  fault(fault: WorkspaceFault): void
  /** Kills any task process still running and removes the folders. */
  [Symbol.asyncDispose](): Promise<void>
}

const proxied = (pathname: string) => /^\/api\/2\.0\/(mlflow|mlflow-artifacts|preview\/mlflow)\//.test(pathname)

/** Forwards a tracking call to the MLflow server, body streamed both ways, without the workspace's credential. */
const proxy = async (tracking: string, request: Request, url: URL): Promise<Response> => {
  const headers = new Headers(request.headers)
  for (const name of ["authorization", "host", "connection"]) headers.delete(name)
  const hasBody = request.method !== "GET" && request.method !== "HEAD"
  const answer = await fetch(`${tracking}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    body: hasBody ? request.body : undefined,
    ...(hasBody ? { duplex: "half" } : {}),
    redirect: "manual",
  } as RequestInit)
  const out = new Headers(answer.headers)
  for (const name of ["content-encoding", "transfer-encoding", "connection"]) out.delete(name)
  return new Response(answer.body, { status: answer.status, headers: out })
}

export const startWorkspace = async (options: WorkspaceOptions = {}): Promise<Workspace> => {
  const root = mkdtempSync(join(tmpdir(), "mlproject-dbx-"))
  const storage: Storage = {
    dbfsDir: join(root, "dbfs"),
    volumesDir: join(root, "Volumes"),
    stagingDir: join(root, "staging"),
    volumes: new Set(options.volumes ?? []),
    dbfsRootDisabled: options.dbfsRootDisabled ?? false,
  }
  for (const dir of [storage.dbfsDir, storage.volumesDir, storage.stagingDir, join(root, "runs")]) mkdirSync(dir, { recursive: true })
  for (const volume of storage.volumes) mkdirSync(join(storage.volumesDir, ...volume.split("/")), { recursive: true })
  const clusters = new Map(Object.entries(options.clusters ?? {}).map(([id, c]) => [id, { state: c.state ?? "RUNNING" }]))
  const workspaceId = String(1_000_000_000_000_000 + (randomBytes(4).readUInt32BE() % 1_000_000_000))
  const credentials = auth(options)
  const files = dbfs(storage)
  let url = ""
  const work = jobs({
    url: () => url,
    workspaceId,
    storage,
    runsDir: join(root, "runs"),
    clusters,
    clusterStartMs: options.clusterStartMs ?? 300,
    python: options.python ?? Bun.which("python3") ?? "python3",
    env: options.env ?? {},
    grant: credentials.grant,
    revoke: credentials.revoke,
  })
  const secrets = options.secrets ?? {}

  const served = serve(async (request, address, record) => {
    const endpoint = record.endpoint
    if (address.pathname === "/oidc/v1/token" && request.method === "POST") return credentials.issue(request, record)
    credentials.check(request)
    if (proxied(address.pathname)) {
      if (!options.tracking) throw new ApiError(404, "ENDPOINT_NOT_FOUND", "No MLflow tracking server behind this loopback workspace.")
      return proxy(options.tracking.url.replace(/\/$/, ""), request, address)
    }
    if (endpoint === "fs/files") return filesApi(storage, request, address, record)
    if (endpoint.startsWith("dbfs/")) return files.handle(endpoint, request, address, record)
    const expected = methodOf[endpoint] ?? (endpoint === "secrets/get" ? "GET" : undefined)
    if (!expected || expected !== request.method) throw new ApiError(404, "ENDPOINT_NOT_FOUND", `No API found for '${request.method} ${address.pathname}'`)
    const input = await params(request, address, record)
    if (endpoint === "secrets/get") {
      const value = secrets[`${String(input.scope)}/${String(input.key)}`]
      if (value === undefined) throw missing(`Secret does not exist with scope: ${String(input.scope)} and key: ${String(input.key)}`)
      return reply({ key: input.key, value: Buffer.from(value).toString("base64") })
    }
    return work.handle(endpoint, input) ?? reply({ error_code: "ENDPOINT_NOT_FOUND", message: `No API found for '${request.method} ${address.pathname}'` }, 404)
  })
  url = served.url

  return {
    url,
    token: credentials.token,
    workspaceId,
    requests: served.requests,
    calls: (endpoint) => served.requests.filter((r) => r.endpoint === endpoint),
    dbfsDir: storage.dbfsDir,
    volumesDir: storage.volumesDir,
    runs: work.runs,
    async settled(runId) {
      const run = work.runs.get(runId)
      if (!run) throw new Error(`run ${runId} was never submitted to the loopback workspace`)
      await run.done
      return run
    },
    clusters,
    fault: (fault) => void served.faults.push({ ...fault }),
    async [Symbol.asyncDispose]() {
      await served.stop()
      await work.dispose()
      files.dispose()
      rmSync(root, { recursive: true, force: true })
    },
  }
}

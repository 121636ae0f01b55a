// The workspace a Databricks run goes to, bound once: its host, its credential, and JSON calls to its REST API.
import type { Workspace } from "../databricks/auth.ts"
import type { Query } from "../databricks/api.ts"
import { databricksProfile } from "../tracking/databricks-config.ts"

type Env = Record<string, string | undefined>

export type CallOptions = { query?: Query; body?: unknown; signal?: AbortSignal; idempotent?: boolean }

export type DatabricksApi = {
  host: string
  workspace: Workspace
  call<T>(method: "GET" | "POST", path: string, options?: CallOptions): Promise<T>
}

/** `databricks://profile` reads only that profile; `databricks` the environment, then the default profile (as the tracking store does). */
export const workspaceApi = async (uri: string, env: Env): Promise<DatabricksApi> => {
  const [{ resolveWorkspace }, { call }] = await Promise.all([import("../databricks/auth.ts"), import("../databricks/api.ts")])
  const workspace = resolveWorkspace({ profile: databricksProfile(uri), subject: "-b databricks" }, env)
  return { host: workspace.host, workspace, call: <T>(method: "GET" | "POST", path: string, options: CallOptions = {}) => call<T>(workspace, method, path, options) }
}

// The backends by name: every run is prepared, started and found again through one of these.
import { localBackend } from "./local.ts"
import type { Backend, LaunchSpec } from "./types.ts"

export type BackendName = LaunchSpec["backend"]

// The docker client loads on first use: a local run never pays for it.
const loaders: Record<BackendName, () => Promise<Backend>> = {
  local: async () => localBackend,
  docker: async () => (await import("./docker.ts")).dockerBackend,
  kubernetes: async () => (await import("./kubernetes.ts")).kubernetesBackend,
  databricks: async () => (await import("./databricks.ts")).databricksBackend,
}

export const backendNamed = (name: BackendName): Promise<Backend> => loaders[name]()

// The backends by name: every run is prepared, started and found again through one of these.
import type { Backend, LaunchSpec } from "./types.ts"

export type BackendName = LaunchSpec["backend"]

// Loaded on first use: a local run never loads the docker client.
const loaders: Record<BackendName, () => Promise<Backend>> = {
  local: async () => (await import("./local.ts")).localBackend,
  docker: async () => (await import("./docker.ts")).dockerBackend,
}

export const backendNamed = (name: BackendName): Promise<Backend> => loaders[name]()

// A one-context kubeconfig in a temporary folder, and a JSON answer as the API server writes it, for the kube client's tests.
import type { TmpDir } from "./tmp.ts"

export type KubeconfigParts = { server: string; cluster?: Record<string, unknown>; user?: Record<string, unknown>; namespace?: string }

/** Writes `<dir>/kube/config` with the context "test" and returns the env that selects it. */
export const kubeEnv = (dir: TmpDir, parts: KubeconfigParts): Record<string, string> => {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    "current-context": "test",
    clusters: [{ name: "c", cluster: { server: parts.server, ...parts.cluster } }],
    users: [{ name: "u", user: parts.user ?? {} }],
    contexts: [{ name: "test", context: { cluster: "c", user: "u", ...(parts.namespace ? { namespace: parts.namespace } : {}) } }],
  }
  return { KUBECONFIG: dir.write("kube/config", JSON.stringify(config, null, 2)), PATH: process.env.PATH ?? "/usr/bin:/bin" }
}

export const json = (body: unknown, status = 200): Response => Response.json(body, { status })

/** A Kubernetes Status answer. */
export const status = (code: number, message: string, reason = "Invalid"): Response =>
  json({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code }, code)

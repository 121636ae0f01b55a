// Kubeconfig files pointing at the loopback API server, one per way of authenticating and of trusting its certificate.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { readFileSync } from "node:fs"
import type { KubeServer } from "./kube-server.ts"

export type KubeconfigVariant = {
  /** token (default), basic (needs `basic` credentials), cert-files or cert-data (the test CA's client certificate), none. */
  auth?: "token" | "basic" | "cert-files" | "cert-data" | "none"
  /** How the server's certificate is trusted: the CA as a file (default), inline data, or insecure-skip-tls-verify. */
  ca?: "file" | "data" | "insecure"
  basic?: { username: string; password: string }
  /** Another token than the server's (to test a rejected one). */
  token?: string
  namespace?: string
  /** The file's name in the server's certificate folder (default: derived from the variant). */
  name?: string
}

const b64 = (text: string) => Buffer.from(text).toString("base64")

/** Writes a kubeconfig (JSON, which is YAML) for `variant` and returns its path; client certificates go to the cert listener. */
export const kubeconfig = (server: KubeServer, variant: KubeconfigVariant = {}): string => {
  const auth = variant.auth ?? "token"
  const ca = variant.ca ?? "file"
  const dir = server.certs.dir
  const cluster: Record<string, unknown> = { server: auth.startsWith("cert") ? server.certUrl : server.url }
  if (ca === "file") cluster["certificate-authority"] = server.certs.caPath
  if (ca === "data") cluster["certificate-authority-data"] = b64(server.certs.ca)
  if (ca === "insecure") cluster["insecure-skip-tls-verify"] = true
  const user: Record<string, unknown> = {}
  if (auth === "token") user.token = variant.token ?? server.token
  if (auth === "basic") Object.assign(user, variant.basic ?? { username: "admin", password: "secret" })
  if (auth === "cert-files") Object.assign(user, { "client-certificate": join(dir, "client.pem"), "client-key": join(dir, "client-key.pem") })
  if (auth === "cert-data") {
    Object.assign(user, {
      "client-certificate-data": b64(readFileSync(join(dir, "client.pem"), "utf8")),
      "client-key-data": b64(readFileSync(join(dir, "client-key.pem"), "utf8")),
    })
  }
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "loopback", cluster }],
    users: [{ name: "tester", user }],
    contexts: [{ name: "loopback", context: { cluster: "loopback", user: "tester", namespace: variant.namespace ?? "default" } }],
    "current-context": "loopback",
    preferences: {},
  }
  const file = join(dir, variant.name ?? `kubeconfig-${auth}-${ca}.json`)
  writeFileSync(file, JSON.stringify(config, null, 2), { mode: 0o600 })
  return file
}

// An imagePullSecret (kubernetes.io/dockerconfigjson) created on the loopback API server over its own REST API, as kubectl would.
import type { KubeServer } from "./kube-server.ts"

export const createPullSecret = async (kube: KubeServer, namespace: string, name: string, registry: string, user: { username: string; password: string }) => {
  const auth = Buffer.from(`${user.username}:${user.password}`).toString("base64")
  const dockerconfig = JSON.stringify({ auths: { [registry]: { username: user.username, password: user.password, auth } } })
  const response = await fetch(`${kube.url}/api/v1/namespaces/${namespace}/secrets`, {
    method: "POST",
    headers: { authorization: `Bearer ${kube.token}`, "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name }, type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": Buffer.from(dockerconfig).toString("base64") } }),
    tls: { ca: kube.certs.ca },
  })
  if (!response.ok) throw new Error(`creating the secret ${name}: ${response.status} ${await response.text()}`)
}

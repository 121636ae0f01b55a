// Kubeconfig loading as kubectl does it: merging KUBECONFIG files, choosing the context, relative paths, in-cluster, errors.
import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { ToolError } from "../../src/errors.ts"
import { kubeconfigPaths, loadKubeTarget } from "../../src/kube/config.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const caught = (work: () => unknown): ToolError => {
  try {
    work()
  } catch (error) {
    if (error instanceof ToolError) return error
    throw error
  }
  throw new Error("expected a ToolError")
}

const kubeconfig = (parts: { current?: string; clusters?: Record<string, object>; users?: Record<string, object>; contexts?: Record<string, object> }): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    ...(parts.current ? { "current-context": parts.current } : {}),
    clusters: Object.entries(parts.clusters ?? {}).map(([name, cluster]) => ({ name, cluster })),
    users: Object.entries(parts.users ?? {}).map(([name, user]) => ({ name, user })),
    contexts: Object.entries(parts.contexts ?? {}).map(([name, context]) => ({ name, context })),
  })

describe("kubeconfig paths", () => {
  test.each([
    [{ KUBECONFIG: "/a:/b::/c", HOME: "/h" }, ["/a", "/b", "/c"]],
    [{ KUBECONFIG: "", HOME: "/h" }, ["/h/.kube/config"]],
    [{ HOME: "/h" }, ["/h/.kube/config"]],
    [{}, []],
  ])("%j → %j", (env, paths) => {
    expect(kubeconfigPaths(env)).toEqual(paths)
  })
})

describe("merging and choosing the context", () => {
  const first = kubeconfig({
    clusters: { shared: { server: "https://first:6443" }, one: { server: "https://one:6443/" } },
    users: { u: { token: "first-token" } },
    contexts: { a: { cluster: "shared", user: "u", namespace: "team-a" }, only1: { cluster: "one", user: "u" } },
  })
  const second = kubeconfig({
    current: "a",
    clusters: { shared: { server: "https://second:6443" }, two: { server: "https://two:6443" } },
    users: { u: { token: "second-token" } },
    contexts: { a: { cluster: "two", user: "u" }, b: { cluster: "shared", user: "u" } },
  })
  const third = kubeconfig({ current: "b" })

  test.each([
    ["the current-context from the first file that sets one; the first definition of a name wins", undefined, { context: "a", server: "https://first:6443", namespace: "team-a" }, "first-token"],
    ["a chosen context", "b", { context: "b", server: "https://first:6443", namespace: "default" }, "first-token"],
    ["a context only the first file has, its server without a trailing slash", "only1", { context: "only1", server: "https://one:6443" }, "first-token"],
  ])("%s", async (_, context, expected, token) => {
    await using dir = tmpdirFor()
    const files = [dir.write("one", first), dir.write("two", second), dir.write("three", third)]
    const target = loadKubeTarget({ KUBECONFIG: [...files, join(dir.path, "missing")].join(":") }, context)
    expect(target).toMatchObject({ ...expected, source: files.join(":") })
    expect((await target.credentials()).headers.authorization).toBe(`Bearer ${token}`)
  })

  test("~/.kube/config from the HOME of the env given", async () => {
    await using dir = tmpdirFor()
    dir.write(".kube/config", kubeconfig({ current: "x", clusters: { c: { server: "https://h:1" } }, contexts: { x: { cluster: "c" } } }))
    expect(loadKubeTarget({ HOME: dir.path })).toMatchObject({ context: "x", server: "https://h:1", source: join(dir.path, ".kube", "config") })
  })

  test("relative certificate, key and token paths resolve against the folder of the file that defines them", async () => {
    await using dir = tmpdirFor()
    dir.write("certs/ca.pem", "CA PEM")
    dir.write("creds/cert.pem", "CERT PEM")
    dir.write("creds/key.pem", "KEY PEM")
    dir.write("creds/token", "file-token\n")
    const clusterFile = dir.write("a/clusters.yaml", kubeconfig({ current: "x", clusters: { c: { server: "https://h:1", "certificate-authority": "../certs/ca.pem" } } }))
    const userFile = dir.write("creds/users.yaml", kubeconfig({ users: { u: { tokenFile: "token", "client-certificate": "cert.pem", "client-key": "./key.pem" } }, contexts: { x: { cluster: "c", user: "u" } } }))
    const target = loadKubeTarget({ KUBECONFIG: `${clusterFile}:${userFile}` })
    expect(target.tls).toEqual({ rejectUnauthorized: true, ca: "CA PEM" })
    const credentials = await target.credentials()
    expect(credentials.headers.authorization).toBe("Bearer file-token")
    expect(credentials.tls).toEqual({ cert: "CERT PEM", key: "KEY PEM" })
    dir.write("creds/token", "rotated-token\n")
    expect((await target.credentials()).headers.authorization).toBe("Bearer rotated-token")
  })

  test("-data fields are base64 and win over files; basic auth; tls-server-name", async () => {
    await using dir = tmpdirFor()
    const b64 = (text: string) => Buffer.from(text).toString("base64")
    const file = dir.write(
      "config",
      kubeconfig({
        current: "x",
        clusters: { c: { server: "https://h:1", "certificate-authority-data": b64("CA DATA"), "certificate-authority": "/nonexistent", "tls-server-name": "api.internal" } },
        users: { u: { username: "alice", password: "s3cret", "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") } },
        contexts: { x: { cluster: "c", user: "u" } },
      }),
    )
    const target = loadKubeTarget({ KUBECONFIG: file })
    expect(target.tls).toEqual({ rejectUnauthorized: true, ca: "CA DATA", serverName: "api.internal" })
    expect(await target.credentials()).toMatchObject({ headers: { authorization: `Basic ${b64("alice:s3cret")}` }, tls: { cert: "CERT", key: "KEY" } })
  })
})

describe("errors", () => {
  const good = { clusters: { c: { server: "https://h:1" } }, users: { u: {} } }
  test.each([
    ["no kubeconfig, not in a cluster", (_: string) => ({ HOME: "/nonexistent-home" }), undefined, "kube.config", /no kubeconfig found \(looked at \/nonexistent-home\/.kube\/config\) and not running inside a cluster/],
    ["invalid YAML names the file and line", (d: string) => ({ KUBECONFIG: `${d}/bad` }), undefined, "kube.config", /bad:2: kubeconfig is not valid YAML/],
    ["an unknown context lists the known ones and the closest", (d: string) => ({ KUBECONFIG: `${d}/good` }), "prodd", "kube.context", /no context 'prodd' in .*good; known contexts: 'prod', 'staging'/],
    ["a context naming a missing cluster", (d: string) => ({ KUBECONFIG: `${d}/good` }), "nocluster", "kube.config", /context 'nocluster' \(.*good\) names cluster 'gone', which .* does not define/],
    ["a context naming a missing user", (d: string) => ({ KUBECONFIG: `${d}/good` }), "nouser", "kube.config", /names user 'ghost'/],
    ["no current-context", (d: string) => ({ KUBECONFIG: `${d}/good` }), undefined, "kube.config", /sets no current-context/],
    ["an unreadable certificate file", (d: string) => ({ KUBECONFIG: `${d}/good` }), "nocert", "kube.config", /cannot read certificate-authority .*missing-ca.pem/],
    ["CA together with insecure-skip-tls-verify", (d: string) => ({ KUBECONFIG: `${d}/good` }), "both", "kube.config", /both insecure-skip-tls-verify and a certificate authority/],
    ["exec v1 without interactiveMode", (d: string) => ({ KUBECONFIG: `${d}/good` }), "exec1", "kube.config", /interactiveMode must be set/],
    ["exec v1alpha1", (d: string) => ({ KUBECONFIG: `${d}/good` }), "alpha", "kube.config", /apiVersion 'client.authentication.k8s.io\/v1alpha1'/],
  ])("%s", async (_, env, context, code, message) => {
    await using dir = tmpdirFor()
    dir.write("bad", "kind: Config\nkind: Config\n")
    dir.write(
      "good",
      kubeconfig({
        clusters: { ...good.clusters, nocert: { server: "https://h:1", "certificate-authority": "missing-ca.pem" }, both: { server: "https://h:1", "certificate-authority-data": "Q0E=", "insecure-skip-tls-verify": true } },
        users: { ...good.users, exec1: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "x" } }, alpha: { exec: { apiVersion: "client.authentication.k8s.io/v1alpha1", command: "x" } } },
        contexts: {
          prod: { cluster: "c", user: "u" },
          staging: { cluster: "c", user: "u" },
          nocluster: { cluster: "gone", user: "u" },
          nouser: { cluster: "c", user: "ghost" },
          nocert: { cluster: "nocert", user: "u" },
          both: { cluster: "both", user: "u" },
          exec1: { cluster: "c", user: "exec1" },
          alpha: { cluster: "c", user: "alpha" },
        },
      }),
    )
    const error = caught(() => loadKubeTarget(env(dir.path), context))
    expect(error.code).toBe(code as never)
    expect(error.exitCode).toBe(2)
    expect(error.message).toMatch(message)
    if (context === "prodd") expect(error.hint).toBe("did you mean 'prod'?")
  })
})

describe("in-cluster", () => {
  test("with no kubeconfig file: the service host and port, the account's token (re-read), CA and namespace", async () => {
    await using dir = tmpdirFor()
    dir.write("sa/token", "sa-token-1")
    dir.write("sa/ca.crt", "CLUSTER CA")
    dir.write("sa/namespace", "jobs\n")
    const env = { HOME: dir.path, KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", MLPROJECT_KUBE_SERVICEACCOUNT_DIR: join(dir.path, "sa") }
    const target = loadKubeTarget(env)
    expect(target).toMatchObject({ context: null, server: "https://10.0.0.1:443", namespace: "jobs", source: "in-cluster", tls: { ca: "CLUSTER CA", rejectUnauthorized: true } })
    expect((await target.credentials()).headers.authorization).toBe("Bearer sa-token-1")
    dir.write("sa/token", "sa-token-2")
    expect((await target.credentials()).headers.authorization).toBe("Bearer sa-token-2")
    expect(loadKubeTarget({ ...env, KUBERNETES_SERVICE_HOST: "fd00::1" }).server).toBe("https://[fd00::1]:443")
  })

  test("a missing token file is a clear error", async () => {
    await using dir = tmpdirFor()
    const error = caught(() => loadKubeTarget({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1", MLPROJECT_KUBE_SERVICEACCOUNT_DIR: dir.path }))
    expect(error.code).toBe("kube.config")
    expect(error.message).toContain(`cannot read the service account token ${join(dir.path, "token")}`)
  })
})

// Resuming watches and log streams against a loopback API server that drops connections and forgets old versions.
import { expect, test } from "bun:test"
import { ToolError } from "../../src/errors.ts"
import { connectKube, type WatchEvent } from "../../src/kube/api.ts"
import { json, kubeEnv, status } from "../lib/kube.ts"
import { loopback } from "../lib/loopback.ts"
import { tmpdirFor } from "../lib/tmp.ts"

const pod = (name: string, version: string) => ({ kind: "Pod", metadata: { name, resourceVersion: version } })
const line = (type: string, object: unknown) => `${JSON.stringify({ type, object })}\n`

/** A body that sends `lines`, then either stays open or ends. */
const body = (lines: string[], then: "open" | "end"): Response =>
  new Response(
    new ReadableStream({
      start(controller) {
        for (const text of lines) controller.enqueue(new TextEncoder().encode(text))
        if (then === "end") controller.close()
      },
    }),
    { headers: { "content-type": "application/json" } },
  )

test("a watch resumes from the last resourceVersion after a drop, relists after 410 (event or status), ends on abort", async () => {
  await using dir = tmpdirFor()
  const watches: string[] = []
  let lists = 0
  await using server = loopback((request, url) => {
    const version = url.searchParams.get("resourceVersion") ?? ""
    if (url.searchParams.get("watch") !== "1") return json({ kind: "PodList", metadata: { resourceVersion: ++lists === 1 ? "10" : "11" }, items: [pod("a", "8"), pod("b", "9")] })
    watches.push(version)
    // The connection is cut after a second of silence, mid-body, as a load balancer drops an idle watch.
    if (version === "5") {
      server.server.timeout(request, 1)
      return body([line("ADDED", pod("a", "6")), line("BOOKMARK", { metadata: { resourceVersion: "7" } })], "open")
    }
    if (version === "7") return body([line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version: 7 (9)" })], "end")
    if (version === "10") return status(410, "too old resource version: 10", "Gone")
    return body([line("DELETED", pod("a", "12"))], "open")
  })
  const kube = await connectKube(kubeEnv(dir, { server: server.url, user: { token: "watch-token" } }))
  const stop = new AbortController()
  const seen: Array<[string, string]> = []
  const path = "/api/v1/namespaces/default/pods"
  for await (const event of kube.watch(path, { query: { labelSelector: "app=x" }, resourceVersion: "5", signal: stop.signal })) {
    seen.push([event.type, (event as WatchEvent).object.metadata.resourceVersion])
    if (event.type === "DELETED") stop.abort()
  }
  expect(seen).toEqual([["ADDED", "6"], ["BOOKMARK", "7"], ["MODIFIED", "8"], ["MODIFIED", "9"], ["MODIFIED", "8"], ["MODIFIED", "9"], ["DELETED", "12"]])
  expect(watches).toEqual(["5", "7", "10", "11"])
  const listed = server.requests.filter((r) => r.query.get("watch") === null)
  expect(listed.map((r) => r.query.toString())).toEqual(["labelSelector=app%3Dx", "labelSelector=app%3Dx"])
  const first = server.requests[0]
  expect(first?.query.get("allowWatchBookmarks")).toBe("true")
  expect(first?.query.get("labelSelector")).toBe("app=x")
  expect(first?.headers.get("authorization")).toBe("Bearer watch-token")
})

test("an ERROR event other than 410 ends the watch with a ToolError; an abort while waiting ends it quietly", async () => {
  await using dir = tmpdirFor()
  await using server = loopback((_, url) =>
    url.searchParams.get("resourceVersion") === "1" ? body([line("ERROR", { kind: "Status", code: 500, message: "etcd is sad" })], "end") : body([], "open"),
  )
  const kube = await connectKube(kubeEnv(dir, { server: server.url }))
  const failing = kube.watch("/api/v1/pods", { resourceVersion: "1", signal: new AbortController().signal })
  const error = await failing.next().then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error).toBeInstanceOf(ToolError)
  expect((error as ToolError).message).toContain("etcd is sad")

  const stop = new AbortController()
  const quiet = kube.watch("/api/v1/pods", { resourceVersion: "2", signal: stop.signal })
  setTimeout(() => stop.abort(), 100)
  expect(await quiet.next()).toEqual({ done: true, value: undefined })
})

test("a log stream: the body as it comes, no idle timeout; a missing pod is kube.not_found", async () => {
  await using dir = tmpdirFor()
  await using server = loopback((_, url) => {
    if (url.pathname.endsWith("/gone/log")) return status(404, 'pods "gone" not found', "NotFound")
    return new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("line 1\n"))
          await Bun.sleep(1200)
          controller.enqueue(new TextEncoder().encode("line 2\n"))
          controller.close()
        },
      }),
    )
  })
  // An idle timeout of one second would cut the pause in the log if it applied.
  const env = { ...kubeEnv(dir, { server: server.url }), MLPROJECT_HTTP_IDLE_TIMEOUT: "1" }
  const kube = await connectKube(env)
  const stream = await kube.stream("/api/v1/namespaces/default/pods/p/log", { query: { follow: true }, signal: new AbortController().signal })
  expect(await new Response(stream).text()).toBe("line 1\nline 2\n")
  expect(server.requests[0]?.query.get("follow")).toBe("true")
  const missing = await kube.stream("/api/v1/namespaces/default/pods/gone/log", { signal: new AbortController().signal }).catch((thrown: unknown) => thrown)
  expect((missing as ToolError).code).toBe("kube.not_found")
})

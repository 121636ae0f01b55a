// A loopback PEP 503 "simple" package index over a folder of wheels, recording every request (to prove nobody asked).
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { loopback, type Loopback } from "./loopback.ts"

const normalise = (name: string) => name.toLowerCase().replace(/[-_.]+/g, "-")

export type SimpleIndex = Loopback & { indexUrl: string }

export const simpleIndex = (wheels: string): SimpleIndex => {
  const server = loopback((_request, url) => {
    const files = readdirSync(wheels).filter((name) => name.endsWith(".whl"))
    const project = url.pathname.match(/^\/simple\/([^/]+)\/?$/)?.[1]
    if (url.pathname === "/simple/" || url.pathname === "/simple") {
      const names = [...new Set(files.map((file) => normalise(file.split("-")[0] as string)))]
      return new Response(`<html><body>${names.map((n) => `<a href="/simple/${n}/">${n}</a>`).join("\n")}</body></html>`, { headers: { "content-type": "text/html" } })
    }
    if (project) {
      const matching = files.filter((file) => normalise(file.split("-")[0] as string) === normalise(project))
      if (matching.length === 0) return new Response("not found", { status: 404 })
      return new Response(`<html><body>${matching.map((f) => `<a href="/files/${f}">${f}</a>`).join("\n")}</body></html>`, { headers: { "content-type": "text/html" } })
    }
    const file = url.pathname.match(/^\/files\/([^/]+\.whl)$/)?.[1]
    if (file && files.includes(file)) return new Response(Bun.file(join(wheels, file)))
    return new Response("not found", { status: 404 })
  })
  return Object.assign(server, { indexUrl: `${server.url}/simple/` })
}

// Git metadata in a docker build context without credentials: a `.git/config` goes into the image as git would show it.
import { readFileSync } from "node:fs"

// A repository's own config and its submodules' (`.git/modules/<name>/config`), at the root or in a nested checkout.
const configPath = /(^|\/)\.git\/(modules\/.+\/)?config$/

// userinfo up to the last '@' before the host's end: `https://user:p@ss@host/` loses `user:p@ss@`.
const userinfo = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/\s"]*@/g

/**
 * The bytes to send for a context file, when they differ from the file's: for a `.git/config`, remote URLs
 * (`url`, `pushurl`, `[url "…"]`) without userinfo and no `extraHeader` lines (git's way to keep a token). A user's
 * `git clone https://TOKEN@host/…` leaves the token there, and `--build-image` would bake it into every layer.
 */
export const contextBytes = (path: string, abs: string): Uint8Array | null => {
  if (!configPath.test(path)) return null
  const text = readFileSync(abs, "utf8")
  const lines = text.split("\n").filter((line) => !/^\s*extraheader\s*=/i.test(line))
  const clean = lines.map((line) => line.replace(userinfo, "$1")).join("\n")
  return clean === text ? null : new TextEncoder().encode(clean)
}

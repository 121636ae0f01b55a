// The root filesystem of the test base image: busybox-static, the host's bash and python3, the shared libraries they link.
import { existsSync, readdirSync, realpathSync, statSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import type { TarEntry } from "../../src/util/docker-tar.ts"
import { binary as mlprojectBinary } from "./cli.ts"

const busybox = "/bin/busybox"
const bash = "/usr/bin/bash"
const python = "/usr/bin/python3"

/** The shared objects a binary needs, from ldd (`name => /path (addr)` and the loader's own `/path (addr)` line). */
const linkedLibraries = (binaries: string[]): string[] => {
  if (binaries.length === 0) return []
  const result = Bun.spawnSync(["ldd", ...binaries], { stdout: "pipe", stderr: "ignore" })
  const paths = new Set<string>()
  for (const line of result.stdout.toString().split("\n")) {
    const match = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line)
    if (match?.[1]) paths.add(match[1])
  }
  return [...paths]
}

/** Python's standard library without tests, GUI, build and package folders: enough to run scripts, a tenth of the size. */
const pythonLibrary = (root: string): string[] => {
  const skipped = new Set(["test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data", "site-packages", "dist-packages", "__pycache__"])
  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      if (skipped.has(name) || name.startsWith("config-")) continue
      const path = join(dir, name)
      const stat = statSync(path)
      if (stat.isDirectory()) walk(path)
      else if (stat.isFile()) files.push(path)
    }
  }
  walk(root)
  return files
}

export const hasPython = existsSync(python)

/**
 * Tar entries of the image, and a key that changes when any input file does. `busybox` leaves bash and python out:
 * a small image for registry round trips, and one with no bash.
 */
export const baseImageEntries = (kind: "full" | "busybox" = "full"): { entries: TarEntry[]; key: string } => {
  const now = Math.floor(Date.now() / 1000)
  const entries: TarEntry[] = []
  const dirs = new Set<string>()
  const addDir = (path: string, mode = 0o755) => {
    if (path === "" || dirs.has(path)) return
    addDir(dirname(path) === "." ? "" : dirname(path))
    dirs.add(path)
    entries.push({ name: path, type: "dir", mode, mtime: now })
  }
  const addFile = (hostPath: string, imagePath = hostPath) => {
    const name = relative("/", imagePath)
    addDir(dirname(name))
    const stat = statSync(hostPath)
    entries.push({ name, type: "file", mode: stat.mode & 0o777, mtime: Math.floor(stat.mtimeMs / 1000), size: stat.size, source: realpathSync(hostPath) })
  }
  const addText = (name: string, text: string, mode = 0o644) => {
    addDir(dirname(name))
    entries.push({ name, type: "file", mode, mtime: now, data: new TextEncoder().encode(text) })
  }
  addDir("tmp", 0o1777)
  addDir("root", 0o700)
  addText("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n")
  addText("etc/group", "root:x:0:\nnogroup:x:65534:\n")
  addFile(busybox, "/bin/busybox")
  const applets = Bun.spawnSync([busybox, "--list"]).stdout.toString().split("\n").filter((name) => /^[a-z0-9_.[-]+$/.test(name))
  for (const applet of applets) {
    if (applet === "busybox" || applet === "bash") continue
    entries.push({ name: `bin/${applet}`, type: "symlink", mode: 0o777, mtime: now, link: "busybox" })
  }
  // The full image also carries the libraries mlproject itself links, so the mounted binary runs inside (issue 11).
  const binaries = kind === "full" ? [bash, ...(existsSync(mlprojectBinary) ? [mlprojectBinary] : [])] : []
  if (kind === "full") addFile(bash, "/bin/bash")
  if (kind === "full" && hasPython) {
    const real = realpathSync(python)
    addFile(real)
    entries.push({ name: "usr/bin/python3", type: "symlink", mode: 0o777, mtime: now, link: real.split("/").pop() as string })
    const version = real.split("/").pop() as string
    const library = pythonLibrary(`/usr/lib/${version}`)
    for (const file of library) addFile(file)
    binaries.push(real, ...library.filter((file) => file.endsWith(".so")))
  }
  for (const library of linkedLibraries(binaries)) addFile(library)
  const hasher = new Bun.CryptoHasher("sha256")
  for (const entry of entries) hasher.update(`${entry.name}\0${entry.size ?? entry.link ?? ""}\0${entry.mode}\0`)
  return { entries, key: hasher.digest("hex").slice(0, 16) }
}

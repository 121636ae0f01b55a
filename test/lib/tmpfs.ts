// A small tmpfs mounted for one test file (root only), to make a disk that really fills up; always unmounted.
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync, ftruncateSync, fstatSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export type Tmpfs = {
  path: string
  /** Fills every free page with a filler file (ENOSPC from then on). */
  fill(): void
  /** Frees `pages` pages of the filler again (4 KiB each). */
  free(pages: number): void
  freeBytes(): number
  unmount(): void
}

const page = 4096

const sh = (argv: string[]): { ok: boolean; stderr: string } => {
  const result = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" })
  return { ok: result.exitCode === 0, stderr: result.stderr.toString().trim() }
}

/** Mounts a tmpfs of `size` (as mount's -o size=…), or returns why it cannot (not root, no mount permission). */
export const mountTmpfs = (size: string): Tmpfs | string => {
  if (process.getuid?.() !== 0) return "not running as root: cannot mount a tmpfs to fill up"
  const path = mkdtempSync(join(tmpdir(), "mlproject-tmpfs-"))
  const mounted = sh(["mount", "-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", path])
  if (!mounted.ok) {
    rmSync(path, { recursive: true, force: true })
    return `mount -t tmpfs failed: ${mounted.stderr}`
  }
  const filler = join(path, "filler")
  let fd: number | null = null
  return {
    path,
    fill() {
      fd ??= openSync(filler, "a")
      const chunk = new Uint8Array(page).fill(120)
      try {
        for (;;) if (writeSync(fd, chunk) < page) break
      } catch {
        // ENOSPC: full.
      }
    },
    free(pages) {
      if (fd === null) return
      ftruncateSync(fd, Math.max(0, fstatSync(fd).size - pages * page))
    },
    freeBytes() {
      const stats = statfsSync(path)
      return Number(stats.bavail) * Number(stats.bsize)
    },
    unmount() {
      if (fd !== null) closeSync(fd)
      fd = null
      if (!sh(["umount", path]).ok) sh(["umount", "-l", path])
      rmSync(path, { recursive: true, force: true })
    },
  }
}

// Temporary folders for tests, removed when the `await using` scope ends.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

export type TmpDir = { path: string; write(relative: string, content: string): string; [Symbol.asyncDispose](): Promise<void> }

export const tmpdirFor = (prefix = "mlproject-"): TmpDir => {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {
    path,
    write(relative, content) {
      const file = join(path, relative)
      mkdirSync(dirname(file), { recursive: true })
      writeFileSync(file, content)
      return file
    },
    async [Symbol.asyncDispose]() {
      rmSync(path, { recursive: true, force: true })
    },
  }
}

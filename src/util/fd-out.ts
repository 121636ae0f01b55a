// Our stdout and stderr as plain descriptors: synchronous whole writes, no stream objects, errors swallowed.
import { fstatSync, statSync, writeSync } from "node:fs"

/**
 * What the renderers write to. `process.stdout`/`process.stderr` cost several milliseconds to create (Bun builds a
 * node WriteStream and switches the descriptor to non-blocking), more than the rest of a short command.
 */
export type FdOut = { write(text: string | Uint8Array): void; readonly isTTY: boolean; readonly columns: number | undefined }

const encoder = new TextEncoder()

/**
 * Writes all of `data`. A descriptor someone else made non-blocking (a parent's pipe, an earlier stream) answers
 * EAGAIN while the reader is behind: wait a millisecond and go on, as a blocking write would have.
 */
export const writeAll = (fd: number, data: string | Uint8Array): void => {
  const bytes = typeof data === "string" ? encoder.encode(data) : data
  let done = 0
  while (done < bytes.length) {
    try {
      done += writeSync(fd, bytes, done, bytes.length - done)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error
      Bun.sleepSync(1)
    }
  }
}

/**
 * A terminal is a character device; /dev/null, the commonest other one, is told apart by its device number without
 * loading node:tty (which costs milliseconds); only another character device asks isatty.
 */
const isTerminal = (fd: number): boolean => {
  try {
    const stat = fstatSync(fd)
    if (!stat.isCharacterDevice() || stat.rdev === statSync("/dev/null").rdev) return false
  } catch {
    return false
  }
  const { isatty } = require("node:tty") as typeof import("node:tty")
  return isatty(fd)
}

/**
 * Descriptor 1 or 2 as a renderer's output. A write that fails (a closed descriptor, a reader that went away, a full
 * disk) is dropped, as the streams' ignored "error" events dropped it before: the command still ends as it would.
 */
export const fdOut = (fd: 1 | 2): FdOut => {
  let tty: boolean | undefined
  return {
    write(text) {
      try {
        writeAll(fd, text)
      } catch {
        // Nobody is reading any more: nothing to tell them.
      }
    },
    get isTTY() {
      tty ??= isTerminal(fd)
      return tty
    },
    // Only a terminal has a width, and only a live progress line asks for it.
    get columns() {
      return this.isTTY ? (fd === 1 ? process.stdout : process.stderr).columns : undefined
    },
  }
}

export const stdoutFd = fdOut(1)
export const stderrFd = fdOut(2)

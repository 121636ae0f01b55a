// Linux child-subreaper status and the reaping of orphans it brings: descendants that detach stay our children.

type Libc = {
  prctl: (option: number, a: number, b: number, c: number, d: number) => number
  waitpid: (pid: number, status: Int32Array, options: number) => number
}

const PR_SET_CHILD_SUBREAPER = 36
const WNOHANG = 1

let libc: Libc | null | undefined

// bun:ffi is loaded on first use: the commands that never start an entry point do not pay for it.
const loadLibc = async (): Promise<Libc | null> => {
  if (libc !== undefined) return libc
  libc = null
  if (process.platform !== "linux") return null
  try {
    const { dlopen, FFIType } = await import("bun:ffi")
    const { symbols } = dlopen("libc.so.6", {
      prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
      waitpid: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
    })
    libc = symbols as unknown as Libc
  } catch {
    // A libc without these symbols (musl names it differently): process groups remain the only handle.
  }
  return libc
}

let subreaper = false

/**
 * Makes this process the subreaper of everything it starts from now on: a descendant whose parent exits (a
 * background job, a double fork, a `setsid` daemon) is re-parented to us instead of init, so it can still be
 * found and stopped. Only Linux offers this; elsewhere it returns false and such descendants escape.
 */
export const becomeSubreaper = async (): Promise<boolean> => {
  if (subreaper) return true
  const symbols = await loadLibc()
  subreaper = symbols !== null && symbols.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0
  return subreaper
}

export const isSubreaper = (): boolean => subreaper

/** Collects an orphan that ended (Bun only waits for the processes it started); true when it was reaped. */
export const reapOrphan = (pid: number): boolean => {
  if (!libc) return false
  return libc.waitpid(pid, new Int32Array(1), WNOHANG) === pid
}

// The host's name, the home folder and the passwd entry, with node:os loaded on the first question.
// Loading node:os costs ~0.6 ms of startup, and describe, log and most runs never ask it anything.
type Os = typeof import("node:os")

const os = (): Os => require("node:os") as Os

export const hostname = (): string => os().hostname()

export const homedir = (): string => os().homedir()

export const userInfo = (): { username: string; homedir: string } => os().userInfo()

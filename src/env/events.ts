// The events environment preparation and `mlproject env` report: members of the shared Event union.
import type { Emit, EnvEntry, Event } from "../events/event.ts"

export type { EnvEntry }

/** The tool that built an environment; also the prefix of its cache key. */
export type EnvTool = EnvEntry["manager"]

export type EnvEvent = Extract<Event, { type: `env.${"creating" | "waiting" | "progress" | "listed" | "removed" | "collected"}` }>

export type EnvEmit = Emit

// The JSON-lines renderer: one object per event with its type and time, nothing else on the stream.
import type { Emit } from "./event.ts"

type Out = { write(text: string): unknown }

export const json = (out: Out): Emit => (event) =>
  void out.write(`${JSON.stringify({ ...event, time: new Date().toISOString() })}\n`)

/** Sends every event to each renderer in turn (the human view plus an `--events` JSON stream). */
export const tee = (...emits: Emit[]): Emit => (event) => {
  for (const emit of emits) emit(event)
}

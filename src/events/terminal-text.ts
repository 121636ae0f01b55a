// Text from outside (parameter values, server bodies, git output, error messages) made inert for a terminal.

// C0 controls but tab and newline, DEL, and the C1 controls (U+0080–U+009F: a lone U+009B is a CSI on many terminals).
const controls = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g

const hex = (char: string) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`

/**
 * `text` with every terminal control byte written visibly (`\x1b`, `\r`, `\b`, …): an escape sequence in a server's
 * error body or a parameter value could otherwise recolour, retitle or clear the terminal, or hide what precedes a
 * `\r`. Tab and newline stay: messages and hints have lines.
 */
export const visible = (text: string): string =>
  text.replace(controls, (char) => (char === "\r" ? "\\r" : char === "\b" ? "\\b" : hex(char)))

// What JSON.stringify writes for a byte `visible` escapes: `\b`, `\f`, `\r`, `\u0000`–`\u001f` (it writes tab and
// newline as `\t` and `\n`, which stay), and DEL and the C1 controls as themselves. An escaped backslash before
// b, f or r only sends the event down the walk. Plain searches (/\\[bfr]|\\u00[01]|[\x7f-\x9f]/ as a pattern costs a
// fresh process ~40 µs on its first use), and the C1 scan only for text that is not ASCII.
const controlInJson = (json: string): boolean =>
  json.includes("\\b") ||
  json.includes("\\f") ||
  json.includes("\\r") ||
  json.includes("\\u000") ||
  json.includes("\\u001") ||
  json.includes("\x7f") ||
  (Buffer.byteLength(json) !== json.length && hasC1Control(json))

const hasC1Control = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80 && text.charCodeAt(i) <= 0x9f) return true
  return false
}

/**
 * Every string in an event (keys too, at any depth) made visible; numbers, booleans and nulls are left as they are.
 * Nearly every event holds no control byte at all: one native JSON.stringify proves it, and the event is used as it
 * is (renderers only read their events). Walking and copying it instead cost describe about 0.2 ms.
 */
export const visibleEvent = <T>(value: T): T => {
  if (value === null || typeof value !== "object") return visibleCopy(value)
  let json: string
  try {
    json = JSON.stringify(value)
  } catch {
    return visibleCopy(value)
  }
  return controlInJson(json) ? visibleCopy(value) : value
}

const visibleCopy = <T>(value: T): T => {
  if (typeof value === "string") return visible(value) as T
  if (Array.isArray(value)) return value.map(visibleCopy) as T
  if (value !== null && typeof value === "object") {
    // defineProperty, as Object.fromEntries does: a param or tag named `__proto__` stays a key, never the prototype.
    const copy: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      const inner = visibleCopy((value as Record<string, unknown>)[key])
      Object.defineProperty(copy, visible(key), { value: inner, enumerable: true, writable: true, configurable: true })
    }
    return copy as T
  }
  return value
}

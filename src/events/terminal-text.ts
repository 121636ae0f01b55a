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

/** Every string in an event (keys too, at any depth) made visible; numbers, booleans and nulls are left as they are. */
export const visibleEvent = <T>(value: T): T => {
  if (typeof value === "string") return visible(value) as T
  if (Array.isArray(value)) return value.map(visibleEvent) as T
  if (value !== null && typeof value === "object") {
    // A loop, not Object.fromEntries: every human line passes here, and that builtin's first call costs ~0.1 ms.
    // defineProperty, as fromEntries does: a param or tag named `__proto__` stays a key, never the prototype.
    const copy: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      const inner = visibleEvent((value as Record<string, unknown>)[key])
      Object.defineProperty(copy, visible(key), { value: inner, enumerable: true, writable: true, configurable: true })
    }
    return copy as T
  }
  return value
}

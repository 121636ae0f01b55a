// Reads the INI files credentials live in (~/.aws/config, ~/.databrickscfg): sections of key = value lines.
import { readFileSync } from "node:fs"

export type Ini = Record<string, Record<string, string>>

export const parseIni = (text: string): Ini => {
  const sections: Ini = {}
  let current: Record<string, string> | null = null
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue
    const header = line.match(/^\[(.+)\]$/)
    if (header?.[1] !== undefined) {
      current = sections[header[1].trim()] ??= {}
      continue
    }
    const pair = line.match(/^([^=:]+?)\s*[=:]\s*(.*)$/)
    if (current !== null && pair?.[1] !== undefined) current[pair[1].toLowerCase()] = pair[2] ?? ""
  }
  return sections
}

/** The parsed file, or null when it does not exist or cannot be read. */
export const readIni = (path: string): Ini | null => {
  try {
    return parseIni(readFileSync(path, "utf8"))
  } catch {
    return null
  }
}

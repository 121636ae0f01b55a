// The loops that replaced regular expressions on startup paths give the patterns' answers: compared on generated text.
import { describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { alnumOr, authorityScheme, endsWithAnyCase, indexOfAny, isDigits, isWhiteSpaceAt, schemeEnd, startsWithAnyCase } from "../../src/util/ascii.ts"
import { resolvePlain } from "../../src/util/pyyaml-resolver.ts"
import { keyLine, quotedOnly } from "../../src/tracking/flat-yaml.ts"
import { plainWord } from "../../src/tracking/yaml-emit.ts"
import { visibleEvent } from "../../src/events/terminal-text.ts"
import { isPythonFloat, isPythonInt } from "../../src/project/yaml-scalar.ts"
import { shellQuote } from "../../src/project/shell-quote.ts"
import { parseTemplate } from "../../src/project/template.ts"
import { parseArgs } from "../../src/cli/args.ts"
import { parsePythonFloat } from "../../src/tracking/metric-line.ts"
import { isExperimentId, isRunId } from "../../src/tracking/experiment-id.ts"
import { appendToUriPath, fileUriToPath, isDatabricksUri, pathToFileUri, uriScheme } from "../../src/tracking/tracking-uri.ts"
import { isRemoteUri, unquote } from "../../src/source/local.ts"
import { isArchiveUri, schemeOf as sourceScheme } from "../../src/source/uri.ts"
import { schemeOf as storageScheme } from "../../src/storage/uri.ts"

// Characters that sit on the patterns' edges: scheme and class members and their neighbours, quotes, every kind of
// white space, letters whose Unicode case maps onto ASCII (İ, the Kelvin sign), C0/C1 controls.
const alphabet = [..."aAzZbBxXeEkK0178+-._/:@?#~=!&*%|>`'\" \t\r\n[]{}\\^", "\u0130", "\u212a", "\u00a0", "\u2003", "\u2028", "\ufeff", "\u0085", "\u0000", "\u0010", "\u001b", "\b", "\f", "\u007f", "\u0080", "\u009b", "\u009f", "\u00a0", "é"]

// A fixed-seed generator: the same texts on every run, so a failure can be replayed.
const texts = (count: number, maxLength: number, extra: readonly string[] = []): string[] => {
  let seed = 0x2545f491
  const next = () => {
    seed ^= seed << 13
    seed ^= seed >>> 17
    seed ^= seed << 5
    return (seed >>> 0) / 2 ** 32
  }
  const out = [...extra, ""]
  for (let n = 0; n < count; n++) {
    const length = Math.floor(next() * (maxLength + 1))
    let text = ""
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)]
    out.push(text)
  }
  return out
}

const same = <T>(name: string, inputs: readonly string[], actual: (text: string) => T, expected: (text: string) => T) => {
  test(`${name}: ${inputs.length} texts`, () => {
    const differing = inputs.filter((text) => !Bun.deepEquals(actual(text), expected(text))).slice(0, 5)
    expect(differing.map((text) => JSON.stringify(text))).toEqual([])
  })
}

const random = texts(20_000, 10)
const schemeLike = texts(10_000, 12, ["http://h", "s3://b/k", "dbfs:/x", "DBFS:/x", "file:///tmp", "git+ssh://h", "ext::sh", "C:\\x", "a:", "1a://", "mlflow-artifacts:/0", "databricks://p", "DataBricks://p", "databri\u212as://p"]).map((text, i) => (i % 2 ? `${text}://${text}` : text))

describe("the ASCII helpers against the patterns they replace", () => {
  same("schemeEnd", random.concat(schemeLike), schemeEnd, (t) => /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(t)?.[1]?.length ?? -1)
  same("authorityScheme", random.concat(schemeLike), authorityScheme, (t) => /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(t)?.[1] ?? null)
  same("isDigits", texts(5_000, 4, ["0", "0123", "٣"]).concat(random), isDigits, (t) => /^\d+$/.test(t))
  same("alnumOr", random, (t) => alnumOr(t, "_.~/-"), (t) => /^[A-Za-z0-9_.~/-]*$/.test(t))
  same("alnumOr from 1", random, (t) => alnumOr(t, ":", 1), (t) => /^[A-Za-z0-9:]*$/.test(t.slice(1)))
  same("indexOfAny", random, (t) => indexOfAny(t, "/?#"), (t) => t.search(/[/?#]/))
  same("startsWithAnyCase", schemeLike, (t) => startsWithAnyCase(t, "dbfs:/"), (t) => /^dbfs:\//i.test(t))
  same("endsWithAnyCase", texts(10_000, 8, ["a.TAR.gz", "x.Zip", "y.tgz", "z.tar\u212a"]).map((t) => `${t}.${["zip", "TaR", "tar.GZ", "tgz", "gz", "mlpack"][t.length % 6]}`), (t) => endsWithAnyCase(t, ".zip", ".tar", ".tar.gz", ".tgz"), (t) => /\.(zip|tar|tar\.gz|tgz)$/i.test(t))
  same("isWhiteSpaceAt", Array.from({ length: 0x3100 }, (_, c) => String.fromCharCode(c)).concat("\ufeff", "\uffff"), (t) => isWhiteSpaceAt(t, 0), (t) => /^\s/.test(t))
})

describe("store and YAML predicates against the patterns they replace", () => {
  same("isExperimentId", random.concat(texts(200, 70)), isExperimentId, (t) => (/^[\x00-\x7f]*$/.test(t) ? /^[a-zA-Z0-9][A-Za-z0-9_-]{0,63}$/.test(t) : /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,63}$/u.test(t)))
  same("isRunId", random.concat(texts(200, 300)), isRunId, (t) => (/^[\x00-\x7f]*$/.test(t) ? /^[a-zA-Z0-9][A-Za-z0-9_-]{0,255}$/.test(t) : /^[a-zA-Z0-9][\p{L}\p{N}_-]{0,255}$/u.test(t)))
  same("flat-yaml keyLine", random.map((t, i) => (i % 3 ? `${t.slice(0, 4)}:${t.slice(4)}` : t)), keyLine, (t) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*):(?:[ ]|$)/.exec(t)
    return match?.[1] ? { key: match[1], length: match[0].length } : null
  })
  same("flat-yaml quotedOnly", random, quotedOnly, (t) => / #|: |:$|\t|\r/.test(t) || /^[#&*!|>%@`]|^[-?:](?: |$)/.test(t))
  // An event is walked (copied) exactly when its JSON text held what the pattern found.
  same("visibleEvent's control test", random, (t) => {
    const event = { message: t }
    return visibleEvent(event) !== event
  }, (t) => /\\[bfr]|\\u00[01]|[\x7f-\x9f]/.test(JSON.stringify({ message: t })))
  same("yaml-emit plainWord", random, plainWord, (t) => /^[A-Za-z0-9_/][A-Za-z0-9_./:+=~@-]*$/.test(t))

  // PyYAML's resolver with every pattern run, as it stood before the digit and prefix shortcuts.
  const resolvers: Array<[string, RegExp]> = [
    ["bool", /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
    ["float", /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/],
    ["int", /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/],
    ["merge", /^(?:<<)$/],
    ["null", /^(?:~|null|Null|NULL|)$/],
    ["timestamp", /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/],
    ["value", /^(?:=)$/],
  ]
  const numeric = texts(20_000, 8, ["0", "00", "07", "08", "010", "0b1", "0x1f", "1_000", "1:30", "2001-12-14", "0.5", ".5", "1e+5", "+.inf"]).map((t) => t.replace(/[^0-9]/g, (c) => "0123456789_.:-+ebx"[c.charCodeAt(0) % 18] as string))
  same("resolvePlain", numeric.concat(random), resolvePlain, (t) => {
    const first = t[0] ?? ""
    const byFirst: Record<string, string[]> = { bool: [..."yYnNtTfFoO"], float: [..."-+0123456789."], int: [..."-+0123456789"], merge: ["<"], null: ["~", "n", "N", ""], timestamp: [..."0123456789"], value: ["="] }
    return (resolvers.find(([tag, pattern]) => byFirst[tag]?.includes(first) && pattern.test(t))?.[0] ?? "str") as ReturnType<typeof resolvePlain>
  })

  same("parsePythonFloat", numeric.concat(random, ["1_e5", "1e", "1.e5", "-.5", "+1.5E-7", "_1", "1__2", " 2 ", "-inf", "NaN"]), parsePythonFloat, (text) => {
    const trimmed = text.trim()
    const special: Record<string, number> = { nan: NaN, inf: Infinity, infinity: Infinity }
    const value = special[trimmed.replace(/^[-+]/, "").toLowerCase()]
    if (value !== undefined) return trimmed.startsWith("-") ? -value : value
    return /^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$/.test(trimmed) ? Number(trimmed.replaceAll("_", "")) : null
  })
})

describe("URI functions against the patterns they replaced", () => {
  same("uriScheme", schemeLike, uriScheme, (t) => (["databricks", "databricks-uc", "uc"].includes(t) ? t : (/^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(t)?.[1]?.toLowerCase() ?? "")))
  same("isDatabricksUri", schemeLike, isDatabricksUri, (t) => t === "databricks" || /^databricks:\/\//i.test(t))
  same("storage schemeOf", schemeLike, storageScheme, (t) => {
    const scheme = t.match(/^([a-zA-Z][a-zA-Z0-9+.-]*):/)?.[1]
    return scheme === undefined || scheme.length === 1 ? null : scheme.toLowerCase()
  })
  same("source schemeOf", schemeLike, sourceScheme, (t) => /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(t)?.[1]?.toLowerCase() ?? (/^dbfs:\//i.test(t) ? "dbfs" : null))
  same("isArchiveUri (plain paths)", random.map((t, i) => `/x/${t}${[".zip", ".TGZ", ".tar.gz", ""][i % 4]}`), isArchiveUri, (t) => /\.(zip|tar|tar\.gz|tgz)$/i.test(t))
  same("unquote", texts(10_000, 6, ["'x'", "\"'x'\"", "''", "'"]).map((t, i) => (i % 2 ? `'${t}"` : t)), unquote, (t) => t.replace(/^['"]+|['"]+$/g, ""))
  // Without `%`: the percent-decoding after the split did not change.
  same("fileUriToPath", schemeLike.filter((t) => !t.includes("%")).map((t) => `file:${t}`), fileUriToPath, (uri) => {
    let rest = uri.slice(uri.indexOf(":") + 1)
    if (rest.startsWith("//")) {
      const slash = rest.indexOf("/", 2)
      rest = slash === -1 ? "" : rest.slice(slash)
    }
    return rest.replace(/[?#].*$/s, "")
  })
  same("pathToFileUri", random.map((t) => `/${t.replaceAll("\u0000", "")}`), pathToFileUri, (path) => {
    const absolute = resolve(path)
    if (/^[A-Za-z0-9_.~/-]*$/.test(absolute)) return `file://${absolute}`
    return `file://${[...new TextEncoder().encode(absolute)].map((b) => (b < 0x80 && /[A-Za-z0-9_.~/-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("")}`
  })
  same("appendToUriPath", schemeLike, (t) => appendToUriPath(t, "/run", "//artifacts"), (uri) => {
    const [, scheme = "", authority = "", path = "", rest = ""] = /^([a-zA-Z][a-zA-Z0-9+.-]*:)?(\/\/[^/?#]*)?([^?#]*)(.*)$/s.exec(uri) ?? []
    const suffix = ["/run", "//artifacts"].map((s) => s.replace(/^\/+/, "")).join("/")
    const joined = path === "" ? (authority ? `/${suffix}` : suffix) : path.endsWith("/") ? path + suffix : `${path}/${suffix}`
    return `${scheme}${authority}${joined}${rest}`
  })
  test("isRemoteUri: schemes and scp-like addresses as /^[a-zA-Z][a-zA-Z0-9+.-]*:\\/\\// and /^[^/\\s]+@[^/\\s]+:/ found them", () => {
    const cwd = mkdtempSync(join(tmpdir(), "mlproject-ascii-"))
    try {
      const inputs = texts(20_000, 10, ["git@github.com:o/r", "a@b:c", "@b:c", "a@:c", "a b@c:d", "a@b/c:d", "a@b@c:d", "a:b@c:", "x\u00a0@y:z", "x@y\u2003:z", "C:x", "./a:b", "dir/x:y", "@b:c", "a@b:c2", "@x:y"])
      const reference = (raw: string): boolean => {
        const base = raw.replace(/^['"]+|['"]+$/g, "").split("#")[0] as string
        if (base.startsWith("file:")) return false
        if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(base)) return true
        if (/^[^/\s]+@[^/\s]+:/.test(base)) return true
        if (existsSync(resolve(cwd, base))) return false
        return /^[^/]*:/.test(base)
      }
      // Every fifth name exists: the scheme and scp tests decide before the file test, the last rule only after it.
      for (const [i, name] of inputs.entries()) if (i % 5 === 0 && /^[^/\u0000]+$/.test(name) && name !== "." && name !== "..") writeFileSync(join(cwd, name), "")
      const differing = inputs.filter((raw) => !raw.includes("\u0000") && isRemoteUri(raw, cwd) !== reference(raw)).slice(0, 5)
      expect(differing.map((t) => JSON.stringify(t))).toEqual([])
    } finally {
      rmSync(cwd, { recursive: true, force: true })
    }
  })
})

describe("parameter paths against the patterns they replaced", () => {
  const numbers = texts(30_000, 9, ["1_0", "1__0", "_1", "1_", "1.", ".5", "1.e5", "1e5", "1e_5", "1_0.0_1e-1_0", " 2 ", "\t-3\n", "+inf", "-Infinity", "NAN", "infinit", "i\u0307nf", "\u00a01\u2003"]).map((t) =>
    t.replace(/[a-zA-Z]/g, (c) => "0123456789._eE+-in"[c.charCodeAt(0) % 18] as string),
  )
  const floatShape = /^[-+]?(?:(?:[0-9](?:_?[0-9])*)?\.?[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*\.(?:[eE][-+]?[0-9](?:_?[0-9])*)?|inf|infinity|nan)$/i
  same("isPythonFloat", numbers.concat(random, ["inf", "-nan", "INFINITY", "infinity!", "1e", "e5"]), isPythonFloat, (t) => floatShape.test(t.replace(/^\s+|\s+$/g, "")))
  same("isPythonInt", numbers.concat(random), isPythonInt, (t) => /^[-+]?[0-9](?:_?[0-9])*$/.test(t.replace(/^\s+|\s+$/g, "")))
  same("shellQuote", random, shellQuote, (t) => (t === "" ? "''" : /[^A-Za-z0-9_@%+=:,./-]/.test(t) ? `'${t.replaceAll("'", `'"'"'`)}'` : t))

  // Which rule a placeholder meets: a positional one, attribute or index access, or a plain name.
  const names = texts(10_000, 6).map((t, i) => t.replace(/[{}:!\[\]]/g, "") + ["", ".a", "[0]", "x[1].b"][i % 4])
  same("placeholder names", names, (name) => parseTemplate(`{${name}}`).problem?.message.split(" ")[0] ?? "field", (name) => {
    const base = /^[^.[]*/.exec(name)?.[0] ?? ""
    return base === "" || /^[0-9]+$/.test(base) ? "positional" : base !== name ? "placeholder" : "field"
  })

  // A word after `-` is a negative number (a value) or a short option (unknown here, so refused).
  same("negative numbers among arguments", texts(20_000, 5, ["1", ".5", ".", "inf", "NaN", "Inf5", "i", "\u0131nf"]).map((t) => `-${t}`), (arg) => {
    try {
      return parseArgs("log", [arg], [], 1).positionals.length === 1
    } catch {
      return false
    }
  }, (arg) => !arg.startsWith("--") && (arg === "-" || /^-(\d|\.\d|inf|nan)/i.test(arg)))
})

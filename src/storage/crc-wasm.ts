// CRC-64/NVME's inner loops as a tiny WebAssembly module, assembled here from its opcodes when first used.
// Why WebAssembly: a table-driven CRC is bound by the latency of its chain (each 8 bytes' lookups wait for the
// last ones). JavaScript has no 64-bit integers, so its loop carries two 32-bit halves and twice the loads; here
// one i64 chain costs the same, and three independent chains over three lanes of a block run side by side
// (~3.4 GB/s on one core against ~1.3 for crc.ts's loop). The lanes are joined by crc.ts's combine.

/** Byte offsets in the module's memory: 8 tables of 256 i64, 8 i64 lane slots, then the data area. */
const slots = 8 * 256 * 8
const data = slots + 64
/** The data area: callers may read straight into it (see `scratch`) to spare a copy. */
export const scratchBytes = 4 * 1024 * 1024

export type Crc64Lanes = {
  /** A view of the data area; bytes of a view into it are hashed in place. */
  scratch: Uint8Array
  /** Continues finalized `crc` over `length` bytes at data offset `at`, one byte at a time (tails). */
  bytes(at: number, length: number, crc: bigint): bigint
  /** Runs `count` (1 or 3) chains of `words` 8-byte words at data offsets at, at + stride, …; crcs in and out of `lane`. */
  lanes(count: 1 | 3, at: number, words: number, stride: number): void
  lane: BigUint64Array
}

const leb = (n: number): number[] => {
  const out: number[] = []
  do {
    const low = n & 0x7f
    n >>>= 7
    out.push(n ? low | 0x80 : low)
  } while (n)
  return out
}
const sleb = (v: bigint): number[] => {
  const out: number[] = []
  for (;;) {
    const low = Number(v & 0x7fn)
    v >>= 7n
    if ((v === 0n && !(low & 0x40)) || (v === -1n && low & 0x40)) return [...out, low]
    out.push(low | 0x80)
  }
}
const vec = (items: number[][]) => [...leb(items.length), ...items.flat()]
const section = (id: number, body: number[]) => [id, ...leb(body.length), ...body]
const name = (text: string) => [...leb(text.length), ...[...text].map((c) => c.charCodeAt(0))]

// The opcodes used (WebAssembly core spec, section 5.4).
const [i32t, i64t] = [0x7f, 0x7e]
const get = (i: number) => [0x20, i]
const set = (i: number) => [0x21, i]
const i32 = (n: number) => [0x41, ...sleb(BigInt(n))]
const i64 = (n: bigint) => [0x42, ...sleb(n)]
const load64 = (offset: number) => [0x29, 3, ...leb(offset)]
const load8 = (offset: number) => [0x31, 0, ...leb(offset)]
const store64 = (offset: number) => [0x37, 3, ...leb(offset)]
const [eqz32, add32, sub32, mul32, and32, shl32, xor64, shr64, wrap] = [0x45, 0x6a, 0x6b, 0x6c, 0x71, 0x74, 0x85, 0x88, 0xa7]
/** block { loop { br_if 1 (local `counter` == 0); body; counter -= 1; br 0 } } */
const countdown = (counter: number, body: number[]) => [0x02, 0x40, 0x03, 0x40, ...get(counter), eqz32, 0x0d, 1, ...body, ...get(counter), ...i32(1), sub32, ...set(counter), 0x0c, 0, 0x0b, 0x0b]

/** Table k's entry for byte j of the 64-bit local `x`: tables are k * 2048 apart, the lowest byte takes table 7. */
const lookup = (x: number, j: number) => [...get(x), ...(j ? [...i64(BigInt(8 * j)), shr64] : []), wrap, ...i32(255), and32, ...i32(3), shl32, ...load64((7 - j) * 2048)]

/** (at, length, crc) -> crc: byte-wise. */
const bytewise = [
  ...vec([]),
  ...get(2), ...i64(-1n), xor64, ...set(2),
  ...countdown(1, [...get(0), ...load8(data), ...get(2), xor64, wrap, ...i32(255), and32, ...i32(3), shl32, ...load64(0), ...get(2), ...i64(8n), shr64, xor64, ...set(2), ...get(0), ...i32(1), add32, ...set(0)]),
  ...get(2), ...i64(-1n), xor64, 0x0b,
]

/** (at, words, stride): `count` chains, slicing-by-8; locals after the parameters: the crcs, then each lane's word. */
const lanes = (count: number) => {
  const crc = (k: number) => 3 + k
  const word = (k: number) => 3 + count + k
  const each = (f: (k: number) => number[]) => Array.from({ length: count }, (_, k) => f(k)).flat()
  return [
    ...vec([[2 * count, i64t]]),
    ...each((k) => [...i32(0), ...load64(slots + 8 * k), ...i64(-1n), xor64, ...set(crc(k))]),
    ...countdown(1, [
      ...each((k) => [...get(0), ...(k ? [...get(2), ...i32(k), mul32, add32] : []), ...load64(data), ...get(crc(k)), xor64, ...set(word(k))]),
      ...each((k) => [...lookup(word(k), 0), ...[1, 2, 3, 4, 5, 6, 7].flatMap((j) => [...lookup(word(k), j), xor64]), ...set(crc(k))]),
      ...get(0), ...i32(8), add32, ...set(0),
    ]),
    ...each((k) => [...i32(0), ...get(crc(k)), ...i64(-1n), xor64, ...store64(slots + 8 * k)]),
    0x0b,
  ]
}

const module = () =>
  new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[i32t], [i32t], [i64t]]), ...vec([[i64t]])], [0x60, ...vec([[i32t], [i32t], [i32t]]), 0]])),
    ...section(3, vec([[0], [1], [1]])),
    ...section(5, vec([[0, ...leb(Math.ceil((data + scratchBytes) / 65536))]])),
    ...section(7, vec([[...name("bytes"), 0, 0], [...name("lanes1"), 0, 1], [...name("lanes3"), 0, 2], [...name("memory"), 2, 0]])),
    ...section(10, vec([bytewise, lanes(1), lanes(3)].map((body) => [...leb(body.length), ...body]))),
  ])

let built: Crc64Lanes | null | undefined

/** The module with its tables filled in (`tables`: slicing-by-8 as 2048 i64), or null where WebAssembly is missing. */
export const crc64Lanes = (tables: () => BigUint64Array): Crc64Lanes | null => {
  if (built !== undefined) return built
  try {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(module()), {}).exports as Record<string, unknown>
    const memory = exports.memory as WebAssembly.Memory
    new BigUint64Array(memory.buffer, 0, 2048).set(tables())
    const one = exports.lanes1 as (at: number, words: number, stride: number) => void
    const three = exports.lanes3 as (at: number, words: number, stride: number) => void
    built = {
      scratch: new Uint8Array(memory.buffer, data, scratchBytes),
      bytes: exports.bytes as Crc64Lanes["bytes"],
      lanes: (count, at, words, stride) => (count === 3 ? three : one)(at, words, stride),
      lane: new BigUint64Array(memory.buffer, slots, 8),
    }
  } catch {
    built = null
  }
  return built
}

// The README's test command: build the binary, run every test, and close with "N passed, N failed".
export {}
const run = async (argv: string[]): Promise<{ code: number; output: string }> => {
  const child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", stdin: "ignore" })
  let output = ""
  const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true })
      output += text
      sink.write(text)
    }
  }
  await Promise.all([pump(child.stdout, process.stdout), pump(child.stderr, process.stderr)])
  return { code: await child.exited, output }
}

const build = await run([process.execPath, "scripts/build.ts"])
if (build.code !== 0) {
  console.log("0 passed, 1 failed")
  process.exit(build.code)
}
const tests = await run([process.execPath, "test", "--timeout", "120000", ...process.argv.slice(2)])
const count = (word: string): number => Number(tests.output.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0)
const passed = count("pass")
const failed = count("fail")
const skipped = count("skip")
// A runner that crashed before counting must not look green.
const failures = tests.code !== 0 && failed === 0 ? 1 : failed
console.log(`${passed} passed, ${failures} failed${skipped ? `, ${skipped} skipped` : ""}`)
process.exit(tests.code)

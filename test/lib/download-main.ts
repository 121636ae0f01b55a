// Downloads one URI in its own process, printing each event as a JSON line: for tests that kill a download mid-way.
import { downloadUri } from "../../src/storage/index.ts"

const [uri, dest] = process.argv.slice(2)
if (!uri || !dest) throw new Error("usage: download-main.ts URI DEST")
const result = await downloadUri(uri, dest, { emit: (event) => console.log(JSON.stringify(event)) })
console.log(JSON.stringify({ type: "result", ...result }))

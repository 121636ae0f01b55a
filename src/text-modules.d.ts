// Files bundled as text into the binary (`import text from "./file.py" with { type: "text" }`).
declare module "*.py" {
  const text: string
  export default text
}

// Stops a test server started in its own process group (git daemon, sshd): SIGTERM to the group, then wait for it.
import type { Subprocess } from "bun"

export const stopGroup = async (child: Subprocess): Promise<void> => {
  try {
    process.kill(-child.pid, "SIGTERM")
  } catch {
    // Not a group leader (or already gone): the process itself.
    child.kill()
  }
  await child.exited
}

// The text view of a Kubernetes run's Job and pods: what they do and, when they wait or fail, why.
import type { Event } from "./event.ts"

type Of<T extends Event["type"]> = Extract<Event, { type: T }>

const because = (reason: string | null, message: string | null): string => (reason ? `: ${reason}${message ? ` (${message})` : ""}` : message ? `: ${message}` : "")

export const kubeJobText = (e: Of<"kube.job.status">): string => {
  const what = { SCHEDULED: "waiting for its pod to start", RUNNING: "running", FINISHED: "completed", FAILED: "failed", KILLED: "deleted (cancelled)" }[e.status]
  return `Job ${e.job} ${what}${e.status === "KILLED" ? "" : because(e.reason, e.message)}`
}

export const kubePodText = (e: Of<"kube.pod.status">): string => {
  const exit = e.exit_code === null ? "" : ` exit code ${e.exit_code}`
  if (e.phase === "Pending") return `pod ${e.pod} pending${because(e.reason, e.message)}`
  if (e.phase === "Running") return `pod ${e.pod} running`
  return `pod ${e.pod} ${e.phase === "Succeeded" ? "succeeded" : "failed"}${exit}${e.reason && e.reason !== "Completed" ? ` (${e.reason}${e.message ? `: ${e.message}` : ""})` : ""}`
}

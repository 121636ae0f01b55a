// Removes credentials from URLs and text before they reach output, events or tracking tags.

/** `https://user:token@host/x` → `https://host/x` (also ssh-style `user:pass@host`). */
export const redactUrl = (value: string): string =>
  value.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@\s]*@/, "$1").replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/\s]*?)[?&](?:access_)?token=[^&#\s]*/, "$1")

/** Redacts every URL-embedded credential found anywhere in a piece of text. */
export const redactText = (text: string): string => text.replace(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@\s:]+(?::[^/@\s]*)?@/g, "$1")

/**
 * JMAP ids (RFC 8620 1.2: 1–255 of A-Z a-z 0-9 - _) for store rows: a letter for the type and
 * the row id. Parsing is strict, so an id of another type or a made-up one is simply not found.
 */

export type IdKind = "account" | "mailbox" | "email" | "thread" | "object";

const PREFIX: Record<IdKind, string> = {
  account: "a",
  mailbox: "M",
  email: "E",
  thread: "T",
  object: "O",
};

export function toJmapId(kind: IdKind, id: number): string {
  return `${PREFIX[kind]}${id}`;
}

/** The row id, or null when `value` is not an id of that kind. */
export function fromJmapId(kind: IdKind, value: unknown): number | null {
  if (typeof value !== "string" || value.length > 20 || !value.startsWith(PREFIX[kind])) {
    return null;
  }
  const digits = value.slice(1);
  if (!/^[1-9][0-9]*$/.test(digits)) return null;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : null;
}

/** blobId of a whole stored blob (an email's bytes or an upload): "B" + SHA-256 hex. */
export function blobId(hash: string): string {
  return `B${hash}`;
}

export function blobHashOf(value: unknown): string | null {
  if (typeof value !== "string" || !/^B[0-9a-f]{64}$/.test(value)) return null;
  return value.slice(1);
}

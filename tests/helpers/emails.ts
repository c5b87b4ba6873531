/** A NewEmail for store-level tests: neutral fields, a blob hash of its own unless overridden. */
import type { NewEmail } from "../../src/store/types.ts";

let counter = 0;

export function newEmail(accountId: number, overrides: Partial<NewEmail> = {}): NewEmail {
  return {
    accountId,
    blobHash: (++counter).toString(16).padStart(64, "0"),
    blobWritten: true,
    size: 100,
    receivedAt: new Date(1_700_000_000_000),
    sentAt: null,
    messageId: null,
    inReplyTo: [],
    references: [],
    subject: "s",
    baseSubject: "s",
    from: [],
    sender: [],
    replyTo: [],
    to: [],
    cc: [],
    bcc: [],
    preview: "",
    hasAttachment: false,
    mime: "{}",
    keywords: [],
    mailboxIds: [],
    fts: { subject: "s", addresses: "", body: "b" },
    ...overrides,
  };
}

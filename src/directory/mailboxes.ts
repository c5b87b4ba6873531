/** The mailboxes every new account gets, with their special-use roles (RFC 6154, RFC 8621). */
import type { MailboxRole } from "../store/types.ts";

export const DEFAULT_MAILBOXES: { name: string; role: MailboxRole }[] = [
  { name: "INBOX", role: "inbox" },
  { name: "Drafts", role: "drafts" },
  { name: "Sent", role: "sent" },
  { name: "Junk", role: "junk" },
  { name: "Trash", role: "trash" },
  { name: "Archive", role: "archive" },
];

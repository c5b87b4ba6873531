/**
 * One FETCH response's data items for one message (RFC 9051 7.5.2): the cheap ones from the
 * view and the store row, and the content ones (ENVELOPE, BODYSTRUCTURE, BODY[section],
 * BINARY) from the stored bytes and MIME tree through src/imap/fetch/.
 *
 * Implementation notes:
 * - The message bytes and MIME tree are read once per message, and only when an item needs
 *   them: ENVELOPE and BODYSTRUCTURE come from the email's row, where delivery put them.
 * - Literals carry exact octet counts; `<origin>` partials answer `BODY[...]<origin>` with
 *   the octets from there (RFC 9051 6.4.5).
 */
import type { EmailContent, MailboxMessage } from "../store/types.ts";
import { fromByteString } from "./fetch/imap_string.ts";
import type { FetchAttribute } from "./wire/parser.ts";
import type { MimePart } from "../mail/mime.ts";
import { CommandFailure, type ImapSession } from "./server.ts";
import { flagList } from "./flags.ts";
import { formatDateTime } from "./datetime.ts";
import { emailObjectId, threadObjectId } from "./search.ts";
import { contentItem } from "./fetch_content.ts";
import { quoted } from "./response.ts";

export interface FetchContext {
  /** Include MODSEQ (CONDSTORE: asked for, or CHANGEDSINCE given). */
  modseq: boolean;
  /** This FETCH set \Seen: include FLAGS so the client learns it (RFC 9051 6.4.5). */
  seenAdded: boolean;
}

export interface LoadedContent {
  raw: Uint8Array;
  mime: MimePart;
  preview: string;
}

const encoder = new TextEncoder();

/** Items answered from the mailbox cache alone: no store read, no message file. */
const SIMPLE = new Set<FetchAttribute["kind"]>([
  "UID",
  "FLAGS",
  "INTERNALDATE",
  "RFC822.SIZE",
  "MODSEQ",
  "EMAILID",
  "THREADID",
  "SAVEDATE",
]);

/** True when every attribute is answered by `simpleItems` (FETCH 1:* (UID FLAGS) and alike). */
export function allSimple(attributes: readonly FetchAttribute[]): boolean {
  return attributes.every((a) => SIMPLE.has(a.kind));
}

/** One simple item ("UID 4", "FLAGS (\Seen)"), or null for the others and MODSEQ. */
function simpleItem(message: MailboxMessage, attribute: FetchAttribute): string | null {
  switch (attribute.kind) {
    case "UID":
      return `UID ${message.uid}`;
    case "FLAGS":
      return `FLAGS ${flagList(message.keywords)}`;
    case "INTERNALDATE":
      return `INTERNALDATE "${formatDateTime(message.receivedAt.getTime())}"`;
    case "RFC822.SIZE":
      return `RFC822.SIZE ${message.size}`;
    case "EMAILID":
      return `EMAILID (${emailObjectId(message.emailId)})`;
    case "THREADID":
      return `THREADID (${threadObjectId(message.threadId)})`;
    case "SAVEDATE":
      return `SAVEDATE "${formatDateTime(message.savedAt.getTime())}"`;
    default:
      return null; // MODSEQ goes last, once (see `closing`)
  }
}

const NONE: readonly string[] = [];

/** FLAGS when a FETCH set \Seen and the client did not ask for them, then MODSEQ. */
function closing(
  message: MailboxMessage,
  attributes: readonly FetchAttribute[],
  context: FetchContext,
): readonly string[] {
  if (!context.seenAdded && !context.modseq) return NONE;
  const items: string[] = [];
  if (context.seenAdded && !attributes.some((a) => a.kind === "FLAGS")) {
    items.push(`FLAGS ${flagList(message.keywords)}`);
  }
  if (context.modseq) items.push(`MODSEQ (${message.modseq})`);
  return items;
}

/** The whole "* n FETCH (...)" line when `allSimple(attributes)`, synchronously. */
export function simpleFetchLine(
  seq: number,
  message: MailboxMessage,
  attributes: readonly FetchAttribute[],
  context: FetchContext,
): string {
  // Built by concatenation: this runs once per message of FETCH 1:* on a big mailbox.
  let items = "";
  for (const attribute of attributes) {
    const item = simpleItem(message, attribute);
    if (item !== null) items = items === "" ? item : `${items} ${item}`;
  }
  for (const item of closing(message, attributes, context)) {
    items = items === "" ? item : `${items} ${item}`;
  }
  return `* ${seq} FETCH (${items})\r\n`;
}

/** The data items, each "NAME value" (values may hold literals), as strings or bytes. */
export async function fetchMessage(
  session: ImapSession,
  message: MailboxMessage,
  attributes: readonly FetchAttribute[],
  context: FetchContext,
): Promise<(string | Uint8Array)[]> {
  let row: EmailContent | null = null;
  const stored = async (): Promise<EmailContent> => {
    row ??= await session.opts.store.emailContent(session.account!.id, message.emailId);
    if (!row) throw new CommandFailure("NO", "Message vanished", "EXPUNGEISSUED");
    return row;
  };
  let content: LoadedContent | null = null;
  const load = async (): Promise<LoadedContent> => {
    if (content) return content;
    const { blobHash, mime, preview } = await stored();
    const raw = await session.opts.blobs.get(blobHash, message.size);
    content = { raw, mime: JSON.parse(mime) as MimePart, preview };
    return content;
  };
  const items: (string | Uint8Array)[] = [];
  for (const attribute of attributes) {
    if (SIMPLE.has(attribute.kind)) {
      const item = simpleItem(message, attribute);
      if (item !== null) items.push(item);
      continue;
    }
    switch (attribute.kind) {
      case "PREVIEW": {
        // RFC 8970: the stored preview (made at delivery, so LAZY changes nothing).
        const { preview } = await stored();
        items.push(`PREVIEW ${preview === "" ? "NIL" : quoted(preview.slice(0, 256))}`);
        break;
      }
      case "ENVELOPE":
      case "BODYSTRUCTURE": {
        // Worked out at delivery (src/mail/ingest.ts); older emails from the message itself.
        const { imap } = await stored();
        if (!imap) {
          items.push(await contentItem(attribute, await load()));
        } else if (attribute.kind === "ENVELOPE") {
          items.push(wireString(`ENVELOPE (${imap.envelope})`));
        } else {
          items.push(wireString(`BODYSTRUCTURE ${imap.bodyStructure}`));
        }
        break;
      }
      default:
        items.push(await contentItem(attribute, await load()));
    }
  }
  items.push(...closing(message, attributes, context));
  return items;
}

/** An IMAP byte string (one char per octet) for the wire: as is when ASCII, else as bytes. */
function wireString(text: string): string | Uint8Array {
  return /[\u0080-\uffff]/.test(text) ? fromByteString(text) : text;
}

/** `NAME {n}\r\n<bytes>` as one byte array. */
export function literalItem(name: string, bytes: Uint8Array): Uint8Array {
  const head = encoder.encode(`${name} {${bytes.length}}\r\n`);
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

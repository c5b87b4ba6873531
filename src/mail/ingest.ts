/**
 * The message path: the one way a message enters any mailbox (SMTP delivery, IMAP APPEND, JMAP
 * import, CLI deliver, Maildir import).
 *
 * Implementation notes:
 * - A message is parsed once (prepare) and may then be committed for several accounts (commit); the
 *   blob is written once and shared.
 * - Line ends are normalised to CRLF before anything else, so sizes, offsets and what IMAP/POP3
 *   send are the same octets.
 * - The blob is durable before the database row that references it; the row is durable before
 *   commit() resolves; the change notification goes out after the commit.
 * - Ugly mail is stored as well as it can be read; only the configured limits reject.
 */
import { MimeLimitError, type MimeLimits, type MimePart, parseMime } from "./mime.ts";
import {
  baseSubject,
  decodeEncodedWords,
  type EmailAddress,
  parseAddressList,
  parseDate,
  parseHeaderFields,
  parseMessageIds,
  unfold,
} from "./headers.ts";
import { extractText } from "./text.ts";
import { type BlobStore, sha256Hex } from "../store/blobs.ts";
import type { ChangeBus } from "../store/bus.ts";
import {
  type EmailImapCache,
  type NewEmail,
  type Store,
  type StoredEmail,
  StoreError,
} from "../store/types.ts";
import { envelopeString } from "../imap/fetch/envelope.ts";
import { bodyStructureString } from "../imap/fetch/bodystructure.ts";
import type { SieveRuntime } from "../sieve/runtime.ts";

export interface IngestLimits {
  maxMessageSize: number;
  maxHeaderSize: number;
  maxMimeDepth: number;
  maxMimeParts: number;
}

export type IngestErrorCode =
  | "too_large"
  | "header_size"
  | "depth"
  | "parts"
  | "quota"
  | "not_found";

/** A refusal the sender caused; protocols map the code to their own reply. */
export class IngestError extends Error {
  constructor(readonly code: IngestErrorCode, message: string) {
    super(message);
    this.name = "IngestError";
  }
}

export interface ParsedMessage {
  raw: Uint8Array;
  hash: string;
  size: number;
  mime: MimePart;
  subject: string;
  sentAt: Date | null;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  from: EmailAddress[];
  sender: EmailAddress[];
  replyTo: EmailAddress[];
  to: EmailAddress[];
  cc: EmailAddress[];
  bcc: EmailAddress[];
  preview: string;
  hasAttachment: boolean;
  bodyText: string;
  /** ENVELOPE and BODYSTRUCTURE, worked out once here so IMAP FETCH need not read the blob. */
  imap: EmailImapCache;
}

export interface DeliveryTarget {
  accountId: number;
  /** Empty or absent: the inbox. */
  mailboxIds?: number[];
  keywords?: string[];
  receivedAt?: Date;
}

export class MessagePath {
  #blobWrites = new WeakMap<ParsedMessage, Promise<boolean>>();
  /** Sieve at delivery (set by the app once config is read); null runs no scripts. */
  sieve: SieveRuntime | null = null;

  constructor(
    readonly store: Store,
    readonly blobs: BlobStore,
    readonly bus: ChangeBus,
    readonly limits: IngestLimits,
  ) {}

  /** Checks limits and parses the message once. Throws IngestError. */
  prepare(input: Uint8Array): ParsedMessage {
    if (input.length > this.limits.maxMessageSize) {
      throw new IngestError(
        "too_large",
        `message is ${input.length} bytes; the limit is ${this.limits.maxMessageSize}`,
      );
    }
    const raw = normalizeLineEnds(input);
    if (raw.length > this.limits.maxMessageSize) {
      throw new IngestError(
        "too_large",
        `message is ${raw.length} bytes with CRLF line ends; the limit is ${this.limits.maxMessageSize}`,
      );
    }
    const mimeLimits: MimeLimits = {
      maxHeaderSize: this.limits.maxHeaderSize,
      maxDepth: this.limits.maxMimeDepth,
      maxParts: this.limits.maxMimeParts,
    };
    let mime: MimePart;
    try {
      mime = parseMime(raw, mimeLimits);
    } catch (error) {
      if (error instanceof MimeLimitError) throw new IngestError(error.limit, error.message);
      throw error;
    }
    const hash = sha256Hex(raw);
    const imap = {
      envelope: envelopeString(raw, mime),
      bodyStructure: bodyStructureString(raw, mime, true),
    };
    return { raw, hash, size: raw.length, mime, imap, ...describe(raw, mime) };
  }

  /** Stores a prepared message for one account. Resolves once it is durable. */
  async commit(message: ParsedMessage, target: DeliveryTarget): Promise<StoredEmail> {
    // The blob is written once per parsed message, and not at all when the store has it.
    let write = this.#blobWrites.get(message);
    if (!write) {
      write = this.store.blobKnown(message.hash).then(async (known) => {
        if (!known) await this.blobs.put(message.hash, message.raw);
        return !known;
      });
      this.#blobWrites.set(message, write);
    }
    const blobWritten = await write;
    const email: NewEmail = {
      accountId: target.accountId,
      blobHash: message.hash,
      blobWritten,
      size: message.size,
      receivedAt: target.receivedAt ?? new Date(),
      sentAt: message.sentAt,
      messageId: message.messageId,
      inReplyTo: message.inReplyTo,
      references: message.references,
      subject: message.subject,
      baseSubject: baseSubject(message.subject),
      from: message.from,
      sender: message.sender,
      replyTo: message.replyTo,
      to: message.to,
      cc: message.cc,
      bcc: message.bcc,
      preview: message.preview,
      hasAttachment: message.hasAttachment,
      mime: JSON.stringify(message.mime),
      imap: message.imap,
      keywords: target.keywords ?? [],
      mailboxIds: target.mailboxIds ?? [],
      fts: {
        subject: message.subject,
        addresses: [message.from, message.sender, message.replyTo, message.to, message.cc]
          .flat().map((a) => `${a.name ?? ""} ${a.email}`).join(" "),
        body: message.bodyText,
      },
    };
    let stored: StoredEmail;
    try {
      try {
        stored = await this.store.insertEmail(email);
      } catch (error) {
        if (!(error instanceof StoreError && error.code === "blob_missing")) throw error;
        // Collected between our check and our insert: write it ourselves and try once more.
        await this.blobs.put(message.hash, message.raw);
        this.#blobWrites.set(message, Promise.resolve(true));
        stored = await this.store.insertEmail({ ...email, blobWritten: true });
      }
    } catch (error) {
      if (error instanceof StoreError && (error.code === "quota" || error.code === "not_found")) {
        throw new IngestError(error.code, error.message);
      }
      throw error;
    }
    this.bus.publish({
      accountId: stored.accountId,
      types: ["Email", "Mailbox", "Thread"],
      modseq: stored.modseq,
    });
    return stored;
  }

  /** prepare + commit for one account. */
  async ingest(input: Uint8Array, target: DeliveryTarget): Promise<StoredEmail> {
    return await this.commit(this.prepare(input), target);
  }
}

const MAX_FIELD_CHARS = 64 * 1024;

function describe(raw: Uint8Array, mime: MimePart) {
  const fields = parseHeaderFields(raw, mime.headerStart, mime.headerEnd);
  const first = (name: string): string | null => {
    const field = fields.find((f) => f.name.toLowerCase() === name);
    return field ? unfold(field.raw).slice(0, MAX_FIELD_CHARS).trim() : null;
  };
  const addresses = (name: string) => {
    const value = first(name);
    return value === null ? [] : parseAddressList(value).slice(0, 1000);
  };
  const subjectRaw = first("subject");
  const date = first("date");
  const messageIds = parseMessageIds(first("message-id") ?? "");
  const text = extractText(raw, mime);
  return {
    subject: subjectRaw === null ? "" : decodeEncodedWords(subjectRaw),
    sentAt: date === null ? null : parseDate(date),
    messageId: messageIds[0] ?? null,
    inReplyTo: parseMessageIds(first("in-reply-to") ?? "").slice(0, 100),
    references: parseMessageIds(first("references") ?? "").slice(-100),
    from: addresses("from"),
    sender: addresses("sender"),
    replyTo: addresses("reply-to"),
    to: addresses("to"),
    cc: addresses("cc"),
    bcc: addresses("bcc"),
    preview: text.preview,
    hasAttachment: text.hasAttachment,
    bodyText: text.text,
  };
}

/** Rewrites bare LF and bare CR as CRLF; returns the input itself when it is already clean. */
export function normalizeLineEnds(input: Uint8Array): Uint8Array {
  // Hop from line end to line end with indexOf (native) rather than visiting every byte.
  let bare = 0;
  for (let at = input.indexOf(0x0a); at !== -1; at = input.indexOf(0x0a, at + 1)) {
    if (at === 0 || input[at - 1] !== 0x0d) bare++;
  }
  for (let at = input.indexOf(0x0d); at !== -1; at = input.indexOf(0x0d, at + 1)) {
    if (input[at + 1] !== 0x0a) bare++;
  }
  if (bare === 0) return input;
  const out = new Uint8Array(input.length + bare);
  let j = 0;
  let start = 0;
  let lf = input.indexOf(0x0a);
  let cr = input.indexOf(0x0d);
  while (lf !== -1 || cr !== -1) {
    const i = cr === -1 || (lf !== -1 && lf < cr) ? lf : cr;
    if (i === lf) lf = input.indexOf(0x0a, i + 1);
    else cr = input.indexOf(0x0d, i + 1);
    const bareLf = input[i] === 0x0a && (i === 0 || input[i - 1] !== 0x0d);
    const bareCr = input[i] === 0x0d && input[i + 1] !== 0x0a;
    if (!bareLf && !bareCr) continue;
    out.set(input.subarray(start, i), j);
    j += i - start;
    out[j++] = 0x0d;
    out[j++] = 0x0a;
    start = i + 1;
  }
  out.set(input.subarray(start), j);
  return out;
}

/**
 * The Store interface: everything protocols and the CLI need from persistent state. Async so that
 * the PostgreSQL store fits behind it; the SQLite store is synchronous underneath. Protocol code
 * never sees SQL. Errors a caller can cause are StoreError values with a code.
 */

import type { DavStore } from "./dav_types.ts";
import type { SpamStore } from "./spam_types.ts";
import type { AcmeStore } from "./acme_types.ts";

/** "blob_missing": the email names a blob the store no longer has; write it and retry. */
export type StoreErrorCode = "conflict" | "not_found" | "quota" | "invalid" | "blob_missing";

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
  }
}

export interface Domain {
  id: number;
  name: string;
  createdAt: Date;
}

export type DkimAlgorithm = "rsa-sha256" | "ed25519-sha256";

export interface DkimKey {
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** Base64 of the public key as published in the DKIM record's p= tag. */
  publicKey: string;
  createdAt: Date;
}

export interface Account {
  id: number;
  address: string;
  domainId: number;
  displayName: string;
  /** Bytes; 0 = unlimited. */
  quota: number;
  usedBytes: number;
  disabled: boolean;
  createdAt: Date;
}

export interface Alias {
  id: number;
  /** local@domain, or @domain for a catch-all. */
  address: string;
  target: string;
}

export type MailboxRole = "inbox" | "sent" | "drafts" | "junk" | "trash" | "archive";

export interface Mailbox {
  id: number;
  accountId: number;
  /** 0 for a top-level mailbox. */
  parentId: number;
  name: string;
  role: MailboxRole | null;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  subscribed: boolean;
  sortOrder: number;
}

export interface MailboxSummary extends Mailbox {
  /** Full name with "/" as the hierarchy separator. */
  path: string;
  messages: number;
  unseen: number;
  /** Sum of message sizes in octets. */
  size: number;
}

export interface EmailAddressRecord {
  name: string | null;
  email: string;
}

/** What the message path hands to the store for one account: everything computed once. */
export interface NewEmail {
  accountId: number;
  blobHash: string;
  /**
   * True when the caller wrote the blob file itself for this email. When false (the blob was
   * already stored), the insert fails with "blob_missing" if the blob's row has meanwhile been
   * collected, so a row never points at a deleted file.
   */
  blobWritten: boolean;
  size: number;
  receivedAt: Date;
  sentAt: Date | null;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  subject: string;
  baseSubject: string;
  from: EmailAddressRecord[];
  sender: EmailAddressRecord[];
  replyTo: EmailAddressRecord[];
  to: EmailAddressRecord[];
  cc: EmailAddressRecord[];
  bcc: EmailAddressRecord[];
  preview: string;
  hasAttachment: boolean;
  /** JSON of the MIME tree with byte offsets (src/mail/mime.ts MimePart). */
  mime: string;
  /** IMAP FETCH values worked out at delivery, so FETCH need not read the message. */
  imap?: EmailImapCache;
  keywords: string[];
  /** Target mailboxes; empty means the account's inbox. */
  mailboxIds: number[];
  fts: { subject: string; addresses: string; body: string };
}

/** The header fields `headerContains` searches. */
export type HeaderField = "subject" | "from" | "to" | "cc" | "bcc";

export interface EmailContent {
  blobHash: string;
  /** JSON of src/mail/mime.ts MimePart. */
  mime: string;
  preview: string;
  /** Null for emails stored before Postern kept it. */
  imap: EmailImapCache | null;
}

/** ENVELOPE and BODYSTRUCTURE as IMAP byte strings (one char per octet; src/imap/fetch/). */
export interface EmailImapCache {
  /** The ENVELOPE list without its outer parentheses. */
  envelope: string;
  /** The extended BODYSTRUCTURE. */
  bodyStructure: string;
}

export interface Membership {
  mailboxId: number;
  uid: number;
  modseq: number;
}

export interface StoredEmail {
  id: number;
  accountId: number;
  threadId: number;
  blobHash: string;
  size: number;
  receivedAt: Date;
  subject: string;
  keywords: string[];
  memberships: Membership[];
  /** The account modseq after this email was committed. */
  modseq: number;
}

/** One message of a mailbox as IMAP sees it (the UID map, flags and sizes). */
export interface MailboxMessage {
  uid: number;
  emailId: number;
  /** The membership's modseq (IMAP MODSEQ). */
  modseq: number;
  /** Lower-case, JMAP style ("$seen" for \Seen), sorted. */
  keywords: string[];
  size: number;
  receivedAt: Date;
  /** When it entered this mailbox (IMAP SAVEDATE). */
  savedAt: Date;
  threadId: number;
}

/** A keyword update: replace the set, or add and remove (IMAP STORE FLAGS / +FLAGS / -FLAGS). */
export interface KeywordChange {
  set?: string[];
  add?: string[];
  remove?: string[];
}

/** The header data SEARCH and SORT read (decoded, as stored at ingest). */
export interface SearchFields {
  id: number;
  subject: string;
  /** RFC 5256 base subject (Re:, Fwd:, [tags] and (fwd) stripped), as stored at ingest. */
  baseSubject: string;
  /** Message-ID without angle brackets, and the ids of In-Reply-To and References. */
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  from: EmailAddressRecord[];
  to: EmailAddressRecord[];
  cc: EmailAddressRecord[];
  bcc: EmailAddressRecord[];
  sentAt: Date | null;
  blobHash: string;
}

/** Which full-text column to match: subject, addresses, body, or all of them (null). */
export type FullTextField = "subject" | "addresses" | "body" | null;

export interface Change {
  modseq: number;
  type: string;
  objectId: number;
  change: "created" | "updated" | "destroyed";
}

/** An email as JMAP reads it without its bytes: the stored header fields and state. */
export interface JmapEmailRecord {
  id: number;
  blobHash: string;
  threadId: number;
  size: number;
  receivedAt: Date;
  sentAt: Date | null;
  messageId: string | null;
  inReplyTo: string[];
  references: string[];
  subject: string;
  from: EmailAddressRecord[];
  sender: EmailAddressRecord[];
  replyTo: EmailAddressRecord[];
  to: EmailAddressRecord[];
  cc: EmailAddressRecord[];
  bcc: EmailAddressRecord[];
  preview: string;
  hasAttachment: boolean;
  /** Lower-case, sorted. */
  keywords: string[];
  mailboxIds: number[];
  /** JSON of src/mail/mime.ts MimePart. */
  mime: string;
}

/** One entry of an account's email listing (what Email/query filters and sorts on cheaply). */
export interface EmailListEntry {
  id: number;
  threadId: number;
  /** ms since the epoch. */
  receivedAt: number;
  /** ms since the epoch, or null without a (valid) Date header. */
  sentAt: number | null;
  size: number;
  hasAttachment: boolean;
  /** Lower-case, sorted. */
  keywords: string[];
  mailboxIds: number[];
}

/** A change to one email by id (JMAP Email/set update): keywords and mailbox memberships. */
export interface EmailUpdate {
  emailId: number;
  keywords?: KeywordChange;
  mailboxes?: { set?: number[]; add?: number[]; remove?: number[] };
}

export interface EmailUpdateResult {
  updated: number[];
  notFound: number[];
  /** Rejected updates with the reason (e.g. an email left in no mailbox, an unknown mailbox). */
  invalid: { emailId: number; property: "mailboxIds" | "keywords"; message: string }[];
  modseq: number;
}

/** JMAP Mailbox counts (RFC 8621 2). */
export interface MailboxCounts {
  mailboxId: number;
  totalEmails: number;
  unreadEmails: number;
  totalThreads: number;
  unreadThreads: number;
}

export interface MailboxUpdate {
  role?: MailboxRole | null;
  sortOrder?: number;
  subscribed?: boolean;
}

/** A stored upload (JMAP upload endpoint, Blob/upload): its blob and declared type. */
export interface Upload {
  blobHash: string;
  size: number;
  type: string;
  createdAt: Date;
  expiresAt: Date;
}

/** A JMAP object kept as JSON (Identity, EmailSubmission, VacationResponse, PushSubscription). */
export interface StoredObject {
  id: number;
  /** JSON text. */
  data: string;
}

export interface NewAccount {
  address: string;
  domainId: number;
  displayName: string;
  quota: number;
  /** A stored password hash (src/directory/password.ts format), or null for none. */
  passwordHash: string | null;
  mailboxes: { name: string; role: MailboxRole | null }[];
}

/** RFC 3461 NOTIFY: empty means "not given" (failures and delays are reported). */
export type DsnNotify = "SUCCESS" | "FAILURE" | "DELAY" | "NEVER";

export type QueueRecipientStatus = "queued" | "delivered" | "failed";

export interface NewQueuedRecipient {
  address: string;
  /** ORCPT as received ("rfc822;user@example.com"), or null. */
  orcpt: string | null;
  notify: DsnNotify[];
}

/** A message entering the outbound queue; its blob is already written. */
export interface NewQueuedMessage {
  blobHash: string;
  /** True when the caller wrote the blob file for this message (see NewEmail.blobWritten). */
  blobWritten: boolean;
  size: number;
  /** Envelope sender; "" for the null reverse-path (notices: never bounced). */
  returnPath: string;
  envelopeId: string | null;
  ret: "FULL" | "HDRS" | null;
  body: "7BIT" | "8BITMIME" | "BINARYMIME";
  smtputf8: boolean;
  requireTls: boolean;
  /** Who queued it: an account address, "dsn", "forward", ... (for `queue list`). */
  source: string;
  arrivedAt: Date;
  expiresAt: Date;
  recipients: NewQueuedRecipient[];
}

export interface QueuedRecipient extends NewQueuedRecipient {
  id: number;
  messageId: number;
  domain: string;
  status: QueueRecipientStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastAttemptAt: Date | null;
  /** The last reply or error, e.g. "450 4.2.0 Mailbox busy (mx.example.com)". */
  lastReply: string | null;
  lastHost: string | null;
}

export interface QueuedMessage extends Omit<NewQueuedMessage, "recipients" | "blobWritten"> {
  id: number;
  delayNotified: boolean;
  recipients: QueuedRecipient[];
}

/** The outcome of one delivery attempt for one recipient. */
export interface AttemptResult {
  recipientId: number;
  status: QueueRecipientStatus;
  /** For "queued": when to try again. */
  nextAttemptAt?: Date;
  reply: string;
  host: string | null;
}

export interface Store {
  close(): Promise<void>;
  /** Calendars, address books and files (src/store/dav_types.ts). */
  readonly dav: DavStore;
  /** Spam classifier models, sender reputation, greylisting (src/store/spam_types.ts). */
  readonly spam: SpamStore;
  /** ACME accounts and issued certificates (src/store/acme_types.ts). */
  readonly acme: AcmeStore;

  /** Creates the domain and its DKIM keys in one transaction. */
  createDomain(name: string, dkimKeys?: DkimKey[]): Promise<Domain>;
  addDkimKeys(domainId: number, keys: DkimKey[]): Promise<void>;
  listDkimKeys(domainId: number): Promise<DkimKey[]>;
  getDomain(name: string): Promise<Domain | null>;
  listDomains(): Promise<Domain[]>;
  /** Refuses (conflict) while accounts or aliases still use the domain. */
  deleteDomain(name: string): Promise<void>;

  createAccount(account: NewAccount): Promise<Account>;
  getAccount(address: string): Promise<Account | null>;
  getAccountById(id: number): Promise<Account | null>;
  listAccounts(domainId?: number): Promise<Account[]>;
  /** Removes the account, its mail and the aliases that point at it. */
  deleteAccount(id: number): Promise<void>;
  getPasswordHash(accountId: number): Promise<string | null>;
  setPasswordHash(accountId: number, hash: string): Promise<void>;
  /** Sets the fields given (display name, quota in bytes, disabled); false: no such account. */
  updateAccount(
    accountId: number,
    changes: { displayName?: string; quota?: number; disabled?: boolean },
  ): Promise<boolean>;

  addAlias(address: string, target: string, domainId: number): Promise<Alias>;
  listAliases(domainId?: number): Promise<Alias[]>;
  deleteAlias(address: string, target?: string): Promise<number>;
  aliasTargets(address: string): Promise<string[]>;

  /**
   * The account's mailboxes with paths. Counting messages, unseen and size costs a pass over
   * every message: with `counts: false` those fields are 0 (names, roles, UIDs only), or only
   * the mailbox `onlyCounts` gets them.
   */
  listMailboxes(
    accountId: number,
    options?: { counts?: boolean; onlyCounts?: number },
  ): Promise<MailboxSummary[]>;
  /** Creates the mailbox at a "/" path, and any missing parents; conflict if it exists. */
  createMailbox(accountId: number, path: string, role?: MailboxRole | null): Promise<Mailbox>;
  /** Renames (and moves) a mailbox; renaming INBOX moves its messages to the new mailbox. */
  renameMailbox(accountId: number, mailboxId: number, newPath: string): Promise<void>;
  /** Deletes a mailbox without children (not INBOX); its messages are expunged. */
  deleteMailbox(accountId: number, mailboxId: number): Promise<void>;
  setSubscribed(accountId: number, mailboxId: number, subscribed: boolean): Promise<void>;
  /** The messages of a mailbox in UID order: all, or those with the given UIDs. */
  /** One mailbox's row (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ), or null when not the account's. */
  getMailbox(accountId: number, mailboxId: number): Promise<Mailbox | null>;
  mailboxMessages(accountId: number, mailboxId: number, uids?: number[]): Promise<MailboxMessage[]>;
  /** Messages of a mailbox added or changed after `modseq`, in UID order. */
  changedMessages(accountId: number, mailboxId: number, modseq: number): Promise<MailboxMessage[]>;
  /** UIDs expunged from a mailbox after `modseq` (QRESYNC). */
  expungedSince(accountId: number, mailboxId: number, modseq: number): Promise<number[]>;
  /**
   * Changes the keywords of messages by UID; with `unchangedSince` (CONDSTORE) messages changed
   * after it are not touched and come back in `failed`.
   */
  updateKeywords(
    accountId: number,
    mailboxId: number,
    uids: number[],
    change: KeywordChange,
    unchangedSince?: number,
  ): Promise<{ updated: MailboxMessage[]; failed: number[] }>;
  /** Removes messages by UID; returns the UIDs expunged. */
  expunge(accountId: number, mailboxId: number, uids: number[]): Promise<number[]>;
  /** Copies messages by UID; [source UID, new UID] pairs and the target's UIDVALIDITY. */
  copyMessages(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): Promise<{ uidValidity: number; pairs: [number, number][] }>;
  /** Moves messages by UID (RFC 6851); the emails keep their ids. */
  moveMessages(
    accountId: number,
    fromMailboxId: number,
    uids: number[],
    toMailboxId: number,
  ): Promise<{ uidValidity: number; pairs: [number, number][] }>;

  /** Commits one email (blob already written) in one durable transaction; group-committed. */
  insertEmail(email: NewEmail): Promise<StoredEmail>;
  getEmail(accountId: number, id: number): Promise<StoredEmail | null>;
  listEmails(accountId: number): Promise<StoredEmail[]>;
  changesSince(accountId: number, modseq: number, limit?: number): Promise<Change[]>;
  /** Where an email's bytes are and its MIME tree (JSON of src/mail/mime.ts MimePart). */
  emailContent(
    accountId: number,
    emailId: number,
  ): Promise<EmailContent | null>;
  /** Header data of the given emails of an account, for SEARCH and SORT. */
  searchFields(accountId: number, emailIds: number[]): Promise<SearchFields[]>;
  /**
   * Emails of the account whose full-text index matches every word of `text` (a word matches
   * any indexed word it begins: "zeb" finds "zebra"), in one column or all.
   */
  fullTextMatch(accountId: number, field: FullTextField, text: string): Promise<Set<number>>;
  /**
   * Emails of the account whose subject, or one of whose addresses in the field (as
   * "name <email>"), contains `needle` (ASCII only; ASCII letters compare case-insensitively):
   * IMAP SEARCH SUBJECT/FROM/TO/CC/BCC done by the database instead of one row per message.
   */
  headerContains(accountId: number, field: HeaderField, needle: string): Promise<Set<number>>;
  /**
   * Forgets blobs whose reference count reached zero, calling `remove` (synchronously, inside the
   * same step, so no ingest can interleave) to delete each file. Returns how many went.
   */
  collectBlobs(remove: (hash: string) => void): Promise<number>;
  blobKnown(hash: string): Promise<boolean>;

  // ---- outbound queue ----

  /** Stores a message and its recipients durably in one transaction (takes a blob reference). */
  enqueue(message: NewQueuedMessage): Promise<QueuedMessage>;
  /**
   * Leases up to `limit` due recipients (status queued, next attempt reached, no live lease) for
   * `leaseMs`, and returns their messages with only the leased recipients. A crashed worker's
   * lease expires, so a recipient is retried only if its outcome was never recorded.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<QueuedMessage[]>;
  /** Records attempt outcomes and drops the leases, in one transaction. */
  recordAttempts(results: AttemptResult[], at: Date): Promise<void>;
  /** Marks that the delay notice for the message went out. */
  markDelayNotified(messageId: number): Promise<void>;
  /** Removes messages none of whose recipients is still queued; releases their blobs. */
  removeFinished(messageId: number): Promise<boolean>;
  /** Drops every lease (start-up of the single node that owns an SQLite store). */
  releaseLeases(): Promise<void>;
  getQueued(id: number): Promise<QueuedMessage | null>;
  listQueue(): Promise<QueuedMessage[]>;
  /** Messages with a recipient still queued, and the queued recipients. */
  queueCounts(): Promise<{ messages: number; recipients: number }>;
  /** Makes queued recipients due now (all messages, or one); returns how many. */
  retryQueued(now: Date, messageId?: number): Promise<number>;
  /** Deletes a queued message and its recipients; false when it does not exist. */
  deleteQueued(id: number): Promise<boolean>;
  /**
   * When the next queued recipient without a live lease falls due, or null when there is none
   * (a recipient being delivered now is not "due": its worker reports when it is done).
   */
  nextQueueDue(now: Date): Promise<Date | null>;

  // ---- JMAP (src/store/sqlite/email_ops.ts) ----

  /** The account's modseq: the JMAP state of every type. */
  accountModseq(accountId: number): Promise<number>;
  /**
   * Changes of the given object types after `modseq`, ordered by (modseq, type, object id); at
   * most `limit`.
   */
  changesOfTypes(
    accountId: number,
    types: string[],
    modseq: number,
    limit: number,
  ): Promise<Change[]>;
  /**
   * The emails with these ids that belong to the account, in no particular order. With
   * `mime: false` the MIME tree is not read (its field is "").
   */
  jmapEmails(
    accountId: number,
    ids: number[],
    options?: { mime?: boolean },
  ): Promise<JmapEmailRecord[]>;
  /** Every email of the account with its memberships and keywords, in id order. */
  emailListing(accountId: number, ids?: number[]): Promise<EmailListEntry[]>;
  /** Keyword and membership changes by email id, in one transaction with one modseq. */
  updateEmails(accountId: number, updates: EmailUpdate[]): Promise<EmailUpdateResult>;
  /** Destroys emails (all their memberships); returns those that existed. */
  destroyEmails(accountId: number, ids: number[]): Promise<{ destroyed: number[]; modseq: number }>;
  /** Thread id → its email ids, oldest received first. */
  threadEmails(accountId: number, threadIds: number[]): Promise<Map<number, number[]>>;
  mailboxCounts(accountId: number): Promise<MailboxCounts[]>;
  updateMailbox(accountId: number, mailboxId: number, update: MailboxUpdate): Promise<void>;
  /**
   * Like fullTextMatch, but every account's matching email ids, unfiltered and as a list: for a
   * caller that checks ownership itself (JMAP's listing), which saves a join per match.
   */
  fullTextCandidates(field: FullTextField, text: string): Promise<number[] | null>;
  /**
   * One page of fullTextCandidates in id order: ids after `from` (ascending) or before it
   * (descending), at most `limit`; null when the text has nothing indexable.
   */
  fullTextPage(
    field: FullTextField,
    text: string,
    from: number,
    limit: number,
    descending: boolean,
  ): Promise<number[] | null>;
  /** The MIME tree (JSON) of one of the account's emails with these bytes, or null. */
  emailContentByBlob(accountId: number, hash: string): Promise<{ mime: string } | null>;
  /** True when the account may read the blob: an email of it or an upload of it has this hash. */
  accountHasBlob(accountId: number, hash: string): Promise<boolean>;
  /** Records an upload (takes a blob reference; `written` as in NewEmail.blobWritten). */
  addUpload(accountId: number, upload: Upload, written: boolean): Promise<void>;
  getUpload(accountId: number, hash: string): Promise<Upload | null>;
  /** Drops uploads past their expiry (releasing their blob references); returns how many. */
  expireUploads(now: Date): Promise<number>;
  listObjects(accountId: number, type: string): Promise<StoredObject[]>;
  /** Creates (id null) or replaces an object; logs the change. Returns its id and the modseq. */
  putObject(
    accountId: number,
    type: string,
    id: number | null,
    data: string,
  ): Promise<{ id: number; modseq: number }>;
  /** Deletes an object; false when it did not exist. */
  deleteObject(accountId: number, type: string, id: number): Promise<boolean>;

  integrityCheck(): Promise<string>;

  // ---- API tokens (src/directory/tokens.ts) and blob lookups (src/jmap/blob.ts) ----

  /** Stores an API key credential (kind 'api_key'); `secretHash` is SHA-256 hex of the secret. */
  createApiKey(accountId: number, label: string, secretHash: string): Promise<ApiKey>;
  /** The account's API keys, oldest first (without their hashes). */
  listApiKeys(accountId: number): Promise<ApiKey[]>;
  /** One API key with its stored hash, or null when there is none with this id. */
  getApiKey(id: number): Promise<StoredApiKey | null>;
  /** Deletes an API key; false when there was none with this id. */
  deleteApiKey(id: number): Promise<boolean>;
  /** Records when an API key was last used. */
  touchApiKey(id: number, at: Date): Promise<void>;
  /** Stores an app password (kind 'app_password'); `hash` is a password hash of its secret. */
  createAppPassword(accountId: number, name: string, hash: string): Promise<AppPassword>;
  /** The account's app passwords, oldest first (without their hashes). */
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  /** One app password with its stored hash, or null when there is none with this id. */
  getAppPassword(id: number): Promise<StoredAppPassword | null>;
  /** Deletes one of the account's app passwords; false when it has none with this id. */
  deleteAppPassword(accountId: number, id: number): Promise<boolean>;
  /** Records when an app password was last used. */
  touchAppPassword(id: number, at: Date): Promise<void>;
  /** The account's TOTP secret (src/directory/totp.ts), or null when two-step sign-in is off. */
  getTotpSecret(accountId: number): Promise<TotpSecret | null>;
  /** Sets (or replaces) the account's TOTP secret, with the step its confirming code used. */
  setTotpSecret(accountId: number, secret: Uint8Array, lastStep: number): Promise<void>;
  /** Removes the account's TOTP secret; false when it had none. */
  deleteTotpSecret(accountId: number): Promise<boolean>;
  /**
   * Records `step` as the last accepted one if it is after the stored one, in one statement;
   * false when it is not (a replay, or a sign-in racing with the same code) or there is no secret.
   */
  acceptTotpStep(accountId: number, step: number): Promise<boolean>;
  /** The ids of the accounts with two-step sign-in on. */
  listTotpAccountIds(): Promise<number[]>;
  /** The account's emails whose bytes have one of these hashes, with threads and mailboxes. */
  emailsByBlob(accountId: number, hashes: string[]): Promise<EmailBlobRef[]>;
  /** The account's emails with this Message-ID (as stored: without angle brackets). */
  emailsByMessageId(accountId: number, messageId: string): Promise<StoredEmail[]>;

  // ---- Sieve scripts (src/sieve/scripts.ts) ----

  /** The account's scripts by name (octet order), without their content. */
  listSieveScripts(accountId: number): Promise<SieveScriptEntry[]>;
  getSieveScript(accountId: number, name: string): Promise<SieveScript | null>;
  /** The script deliveries run for the account, or null when none is active. */
  getActiveSieveScript(accountId: number): Promise<SieveScript | null>;
  /**
   * Creates or replaces a script (an active one stays active). Creating one more than
   * `maxScripts` throws StoreError "quota"; the count is checked in the same transaction.
   * Every write of this block bumps the account modseq and logs a "SieveScript" change.
   */
  putSieveScript(
    accountId: number,
    name: string,
    content: string,
    maxScripts: number,
  ): Promise<{ created: boolean; id: number }>;
  /** Throws StoreError "not_found" (no `from`) or "conflict" (`to` exists); keeps `active`. */
  renameSieveScript(accountId: number, from: string, to: string): Promise<void>;
  /** Deletes an inactive script; "active" leaves it in place. */
  deleteSieveScript(
    accountId: number,
    name: string,
  ): Promise<"deleted" | "not_found" | "active">;
  /** Makes `name` the one active script, or deactivates all with null; false: no such script. */
  setActiveSieveScript(accountId: number, name: string | null): Promise<boolean>;
}

/** An API token's credential row (the secret itself is never stored). */
export interface ApiKey {
  id: number;
  accountId: number;
  label: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface StoredApiKey extends ApiKey {
  /** SHA-256 hex of the secret. */
  secretHash: string;
}

/** An app password's credential row: a second password for one device or program. */
export interface AppPassword {
  id: number;
  accountId: number;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface StoredAppPassword extends AppPassword {
  /** The password hash of its secret (src/directory/password.ts). */
  hash: string;
}

/** An account's TOTP secret: two-step sign-in is on while it exists. */
export interface TotpSecret {
  secret: Uint8Array;
  /** The time step of the last code accepted; a code of this step or earlier is refused. */
  lastStep: number;
  createdAt: Date;
}

/** An email referencing a blob (JMAP Blob/lookup). */
export interface EmailBlobRef {
  emailId: number;
  blobHash: string;
  threadId: number;
  mailboxIds: number[];
}

/** A stored Sieve script as LISTSCRIPTS sees it. */
export interface SieveScriptEntry {
  /** Stable across renames and never reused within the account (JMAP SieveScript ids). */
  id: number;
  name: string;
  active: boolean;
  /** UTF-8 bytes of the content. */
  size: number;
  updatedAt: Date;
}

export interface SieveScript extends SieveScriptEntry {
  content: string;
  createdAt: Date;
}

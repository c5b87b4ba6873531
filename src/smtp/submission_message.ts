/**
 * What authenticated submission does to a message before it is stored (RFC 6409 8, RFC 6376):
 * the From header must name only addresses the account owns, a missing `Date` and `Message-ID`
 * are added (RFC 6409 8.2, 8.3), and the message is DKIM-signed with every key of the From
 * domain (RSA and Ed25519, relaxed/relaxed).
 *
 * Implementation notes:
 * - The header block is read as bytes up to the first empty line; folded fields are unfolded
 *   for reading only, the message bytes are never rewritten, only prepended to.
 * - Signing comes last, so the signatures cover the added Date and Message-ID; the caller then
 *   prepends Return-Path and Received above the DKIM-Signature fields.
 * - A domain without keys, or a signing failure, delivers unsigned and logs it: losing a
 *   submitted message over a signature would be worse than sending it unsigned.
 * - mailauth's signer is loaded on first use, like the verifier in inbound_auth.ts (`deno
 *   bundle` leaves mailauth external; keep the version in step with deno.json).
 */
import { Buffer } from "node:buffer";
import type { Directory } from "../directory/directory.ts";
import type { Logger } from "../observability/log.ts";
import type { Account } from "../store/types.ts";
import { reply } from "./wire/reply.ts";
import { prependHeaders, rfc5322Date } from "./received.ts";
import { ownsSender } from "./submission_auth.ts";
import { dkimRecord } from "./dkim_keys.ts";

/** The header fields the DKIM signatures cover (RFC 6376 5.4.1). */
export const SIGNED_HEADERS = [
  "From",
  "To",
  "Cc",
  "Subject",
  "Date",
  "Message-ID",
  "Reply-To",
  "In-Reply-To",
  "References",
  "MIME-Version",
  "Content-Type",
];

interface SignatureData {
  signingDomain: string;
  selector: string;
  privateKey: string;
  algorithm: string;
  canonicalization: string;
}

type DkimSign = (
  input: Buffer,
  options: {
    canonicalization: string;
    headerList: string[];
    signatureData: SignatureData[];
    signTime?: Date;
  },
) => Promise<{ signatures: string; errors: { selector?: string; err?: unknown }[] }>;

const SIGN_NPM = "npm:mailauth@4.9.5/lib/dkim/sign.js";
let signer: Promise<DkimSign> | null = null;

type DkimVerify = (
  input: Buffer,
  options: { resolver: (name: string, type: string) => Promise<string[][]> },
) => Promise<{ results: { selector?: string; status?: { result?: string } }[] }>;

const VERIFY_NPM = "npm:mailauth@4.9.5/lib/dkim/verify.js";
let verifier: Promise<DkimVerify> | null = null;

function loadVerify(): Promise<DkimVerify> {
  verifier ??= import("mailauth/lib/dkim/verify.js")
    .catch(() => import(VERIFY_NPM))
    .then((module) => module.dkimVerify as unknown as DkimVerify);
  return verifier;
}

/** Signing attempts before a key whose signature does not verify is left out. */
const SIGN_ATTEMPTS = 3;

function loadSign(): Promise<DkimSign> {
  signer ??= import("mailauth/lib/dkim/sign.js")
    .catch(() => import(SIGN_NPM))
    .then((module) => module.dkimSign as unknown as DkimSign);
  return signer;
}

export interface SubmissionInput {
  directory: Directory;
  log: Logger;
  account: Account;
  /** Our host name, the right side of a generated Message-ID. */
  hostname: string;
  /** The session id, for the log. */
  session: string;
}

export type SubmissionOutcome =
  | { ok: true; message: Uint8Array }
  | { ok: false; reply: string };

/** Header block text (latin1, byte for byte) and the offset where the body separator starts. */
function headerBlock(message: Uint8Array): string {
  const text = new TextDecoder("latin1").decode(message);
  if (text.startsWith("\r\n")) return "";
  const end = text.indexOf("\r\n\r\n");
  return end === -1 ? text : text.slice(0, end + 2);
}

/** Unfolded header fields as [lower-case name, value]. */
export function headerFields(message: Uint8Array): [string, string][] {
  const fields: [string, string][] = [];
  for (const line of headerBlock(message).split("\r\n")) {
    if (line === "") continue;
    if ((line[0] === " " || line[0] === "\t") && fields.length > 0) {
      fields[fields.length - 1][1] += line;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1)]);
  }
  return fields;
}

/**
 * The addr-specs of an address-list (RFC 5322 3.4): display names, quoted strings, comments
 * and group syntax are skipped.
 *
 * @example
 * mailboxAddresses('"Doe, J" <j@example.com>, k@example.com (K)') // ["j@example.com", "k@example.com"]
 */
export function mailboxAddresses(value: string): string[] {
  let cleaned = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === "\\" && (quoted || depth > 0)) {
      i++;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
      continue;
    }
    if (c === "(") depth++;
    else if (c === ")" && depth > 0) depth--;
    else if (depth > 0) continue;
    else if (c === '"') quoted = true;
    else cleaned += c;
  }
  const addresses: string[] = [];
  for (let part of cleaned.split(",")) {
    // Group syntax: "name: a@b, c@d;" — drop the display name and the terminator.
    const colon = part.indexOf(":");
    if (colon !== -1 && !part.slice(0, colon).includes("<")) part = part.slice(colon + 1);
    part = part.replace(/;\s*$/, "");
    const angle = /<([^>]*)>/.exec(part);
    const address = (angle ? angle[1] : part).trim();
    if (address !== "") addresses.push(address);
  }
  return addresses;
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Checks From ownership, adds Date and Message-ID, and DKIM-signs; see the module notes. */
export async function prepareSubmission(
  input: SubmissionInput,
  message: Uint8Array,
): Promise<SubmissionOutcome> {
  const fields = headerFields(message);
  const from = fields.filter(([name]) => name === "from").flatMap(([, v]) => mailboxAddresses(v));
  if (from.length === 0) {
    input.log.info("submission refused: no From header", { session: input.session });
    return { ok: false, reply: reply(550, "5.6.0", "Message has no From header") };
  }
  for (const address of from) {
    if (!address.includes("@") || !(await ownsSender(input.directory, input.account, address))) {
      input.log.info("submission refused: From not owned", {
        session: input.session,
        user: input.account.address,
        from: address,
      });
      return { ok: false, reply: reply(550, "5.7.1", "From header address not owned by you") };
    }
  }

  let added = "";
  if (!fields.some(([name]) => name === "date")) added += `Date: ${rfc5322Date(new Date())}\r\n`;
  if (!fields.some(([name]) => name === "message-id")) {
    added += `Message-ID: <${randomId()}@${input.hostname}>\r\n`;
  }
  if (added !== "") message = prependHeaders(added, message);

  const domainName = from[0].slice(from[0].lastIndexOf("@") + 1).toLowerCase();
  return { ok: true, message: await sign(input, message, domainName) };
}

async function sign(input: SubmissionInput, message: Uint8Array, domainName: string) {
  try {
    const store = input.directory.store;
    const domain = await store.getDomain(domainName);
    const keys = domain ? await store.listDkimKeys(domain.id) : [];
    if (keys.length === 0) {
      input.log.info("no DKIM keys: message sent unsigned", {
        session: input.session,
        domain: domainName,
      });
      return message;
    }
    const dkimSign = await loadSign();
    const dkimVerify = await loadVerify();
    // Every signature is checked against its own public key before the message goes out: about
    // one RSA signature in several hundred made here does not verify (seen with python3-dkim,
    // mailauth and Postfix peers; Ed25519 ones always do), and a bad signature is worse than
    // none. A failed one is made again a second later (another t=), then left out.
    const records = new Map(keys.map((key) => [
      `${key.selector}._domainkey.${domainName}`.toLowerCase(),
      dkimRecord(key),
    ]));
    const resolver = (name: string) => {
      const record = records.get(name.toLowerCase().replace(/\.$/, ""));
      if (!record) {
        return Promise.reject(Object.assign(new Error("no such record"), { code: "ENOTFOUND" }));
      }
      return Promise.resolve([[record]]);
    };
    let signing = keys;
    for (let attempt = 1; attempt <= SIGN_ATTEMPTS && signing.length > 0; attempt++) {
      const result = await dkimSign(Buffer.from(message), {
        canonicalization: "relaxed/relaxed",
        headerList: SIGNED_HEADERS,
        signTime: new Date(Date.now() + (attempt - 1) * 1000),
        signatureData: signing.map((key) => ({
          signingDomain: domainName,
          selector: key.selector,
          privateKey: key.privateKey,
          algorithm: key.algorithm,
          canonicalization: "relaxed/relaxed",
        })),
      });
      for (const failure of result.errors ?? []) {
        input.log.warn("DKIM signing failed for a key", {
          session: input.session,
          domain: domainName,
          selector: failure.selector,
          error: failure.err instanceof Error ? failure.err : String(failure.err),
        });
      }
      const signatures = result.signatures.trim();
      if (signatures === "") return message;
      const signed = prependHeaders(`${signatures}\r\n`, message);
      const verified = await dkimVerify(Buffer.from(signed), { resolver });
      const failed = new Set(
        verified.results.filter((r) => r.status?.result !== "pass").map((r) => r.selector),
      );
      if (failed.size === 0) return signed;
      input.log.warn("a DKIM signature did not verify; signing again", {
        session: input.session,
        domain: domainName,
        selectors: [...failed].join(","),
        attempt,
      });
      if (attempt === SIGN_ATTEMPTS - 1) {
        signing = signing.filter((key) => !failed.has(key.selector));
      }
    }
    return message;
  } catch (error) {
    input.log.warn("DKIM signing failed: message sent unsigned", {
      session: input.session,
      domain: domainName,
      error: error instanceof Error ? error : String(error),
    });
    return message;
  }
}

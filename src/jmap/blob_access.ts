/**
 * Reading blobs on an account's behalf: whole blobs ("B" + SHA-256: an email's bytes or an
 * upload) and parts of emails ("P…", src/jmap/email_render.ts), each only when the account holds
 * an email or upload with those bytes, so no account can read another's by guessing a hash.
 */
import type { App } from "../app.ts";
import { decodePartBody, findSection, type MimePart } from "../mail/mime.ts";
import { blobHashOf } from "./ids.ts";
import { sha256Hex } from "../store/blobs.ts";
import { parsePartBlobId } from "./email_render.ts";

export interface BlobContent {
  bytes: Uint8Array;
  /** The media type we know for it (upload type or part type), or null. */
  type: string | null;
  /** A file name we know for it (an attachment's), or null. */
  name: string | null;
}

/** The blob's bytes, or null when it does not exist or is not the account's. */
export async function readBlob(
  app: App,
  accountId: number,
  blobId: string,
): Promise<BlobContent | null> {
  const hash = blobHashOf(blobId);
  if (hash) {
    if (!await app.store.accountHasBlob(accountId, hash)) return null;
    const upload = await app.store.getUpload(accountId, hash);
    const bytes = await app.blobs.get(hash).catch(() => null);
    if (!bytes) return null;
    return { bytes, type: upload?.type ?? "message/rfc822", name: null };
  }
  const part = parsePartBlobId(blobId);
  if (!part) return null;
  if (!await app.store.accountHasBlob(accountId, part.hash)) return null;
  const raw = await app.blobs.get(part.hash).catch(() => null);
  if (!raw) return null;
  const mime = await mimeOf(app, accountId, part.hash);
  if (!mime) return null;
  const found = findSection(mime, part.section);
  if (!found || found.type === "multipart") return null;
  return {
    bytes: decodePartBody(raw, found),
    type: `${found.type}/${found.subtype}`,
    name: found.dispositionParams.filename ?? found.params.name ?? null,
  };
}

/** Whether the account may read the blob, without reading it. */
export async function blobExists(app: App, accountId: number, blobId: string): Promise<boolean> {
  const hash = blobHashOf(blobId) ?? parsePartBlobId(blobId)?.hash;
  return !!hash && await app.store.accountHasBlob(accountId, hash);
}

async function mimeOf(app: App, accountId: number, hash: string): Promise<MimePart | null> {
  const content = await app.store.emailContentByBlob(accountId, hash);
  return content ? JSON.parse(content.mime) as MimePart : null;
}

/**
 * Writes bytes as an upload of the account (upload endpoint, Blob/upload) kept `ttlSeconds`
 * while nothing else uses them; returns the SHA-256 hash.
 */
export async function storeUpload(
  app: App,
  ttlSeconds: number,
  accountId: number,
  bytes: Uint8Array,
  type: string,
): Promise<string> {
  const hash = sha256Hex(bytes);
  const known = await app.store.blobKnown(hash);
  if (!known) await app.blobs.put(hash, bytes);
  const now = new Date();
  const upload = {
    blobHash: hash,
    size: bytes.length,
    type,
    createdAt: now,
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
  };
  try {
    await app.store.addUpload(accountId, upload, !known);
  } catch (error) {
    // Collected between the check and the insert: write it and try once more.
    await app.blobs.put(hash, bytes);
    await app.store.addUpload(accountId, upload, true).catch(() => {
      throw error;
    });
  }
  return hash;
}

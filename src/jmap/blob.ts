/**
 * Blob/upload, Blob/get and Blob/lookup (RFC 9404): blobs made and read inside an API request,
 * and which emails, threads and mailboxes reference a blob.
 *
 * Implementation notes:
 * - Blobs are whole stored blobs ("B" + SHA-256) or parts of emails ("P…"); both are read
 *   through blob_access.ts, so an account only ever sees blobs it holds an email or upload of.
 * - A Blob/upload result is stored exactly like an upload to the upload endpoint (an upload row
 *   holding one blob reference until [jmap] upload_ttl), so Email/import and the download
 *   endpoint take it like any other upload. Its creation id resolves ("#id") in later data
 *   sources of the same call and in later calls of the request.
 * - A blob being assembled stops growing past maxSizeBlobSet (tooLarge) before the next source
 *   is read, so memory is bounded by the limit plus one source blob.
 * - Blob/lookup answers notFound for a blob the account cannot read, whether or not it exists
 *   elsewhere (RFC 9404 6), and an empty list per type for one only an upload holds.
 */
import { createHash } from "node:crypto";
import {
  allowOnly,
  type Args,
  fail,
  invalidProperties,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
  optionalUnsigned,
  requireAccount,
  type SetError,
  SetFailure,
} from "./method.ts";
import type { Capability } from "./registry.ts";
import { readGetArgs, resolveCreationId, selectProperties } from "./standard.ts";
import { blobExists, readBlob, storeUpload } from "./blob_access.ts";
import { blobHashOf, blobId, toJmapId } from "./ids.ts";
import { parsePartBlobId } from "./email_render.ts";

const BLOB = "urn:ietf:params:jmap:blob";
const MAIL = "urn:ietf:params:jmap:mail";

/** RFC 9404 4.1: servers MUST allow at least 64 data sources per blob; we allow exactly that. */
const MAX_DATA_SOURCES = 64;
const TYPE_NAMES = ["Mailbox", "Thread", "Email"] as const;
/** HTTP Digest Algorithm names (RFC 3230 registry) → node:crypto hash names. */
const DIGESTS: Record<string, string> = { "sha": "sha1", "sha-256": "sha256" };
const GET_PROPERTIES = [
  "id",
  "data",
  "data:asText",
  "data:asBase64",
  "size",
  ...Object.keys(DIGESTS).map((name) => `digest:${name}`),
];

export const capabilities: Capability[] = [{
  urn: BLOB,
  session: () => ({}),
  account: (limits) => ({
    maxSizeBlobSet: limits.maxSizeUpload,
    maxDataSources: MAX_DATA_SOURCES,
    supportedTypeNames: [...TYPE_NAMES],
    supportedDigestAlgorithms: Object.keys(DIGESTS),
  }),
}];

// ---- Blob/upload (RFC 9404 4.1) ----

async function upload(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "create"]);
  requireAccount(args, ctx);
  const create = args.create;
  if (!isPlainObject(create)) fail("create must be an object");
  if (Object.keys(create).length > ctx.limits.maxObjectsInSet) {
    throw new MethodError(
      "requestTooLarge",
      `at most ${ctx.limits.maxObjectsInSet} blobs in one Blob/upload`,
    );
  }
  const created: Record<string, Args> = {};
  const notCreated: Record<string, SetError> = {};
  for (const [creationId, object] of Object.entries(create)) {
    try {
      const blob = await createBlob(object, ctx);
      ctx.createdIds.set(creationId, blob.id as string);
      created[creationId] = blob;
    } catch (error) {
      if (!(error instanceof SetFailure)) throw error;
      notCreated[creationId] = withoutUndefined(error.error);
    }
  }
  return {
    accountId: ctx.accountId,
    created: Object.keys(created).length ? created : null,
    notCreated: Object.keys(notCreated).length ? notCreated : null,
  };
}

/** Assembles one UploadObject's data sources and stores the result as an upload. */
async function createBlob(object: unknown, ctx: MethodContext): Promise<Args> {
  if (!isPlainObject(object)) throw invalidProperties([], "an UploadObject must be an object");
  const unknown = Object.keys(object).filter((key) => key !== "data" && key !== "type");
  if (unknown.length) throw invalidProperties(unknown, "unknown property");
  const type = object.type ?? null;
  if (type !== null && (typeof type !== "string" || !/^[\w.+-]+\/[\w.+-]+$/.test(type))) {
    throw invalidProperties(["type"], "type must be a media type or null");
  }
  const sources = object.data;
  if (!Array.isArray(sources)) throw invalidProperties(["data"], "data must be a list");
  const max = ctx.limits.maxSizeUpload;
  if (sources.length > MAX_DATA_SOURCES) {
    throw new SetFailure({
      type: "tooLarge",
      description: `at most ${MAX_DATA_SOURCES} data sources per blob`,
    });
  }
  const chunks: Uint8Array[] = [];
  const notFound: string[] = [];
  let total = 0;
  for (const [index, source] of sources.entries()) {
    const chunk = await readSource(source, `data/${index}`, ctx, notFound);
    if (!chunk) continue;
    total += chunk.length;
    if (total > max) {
      throw new SetFailure({ type: "tooLarge", description: `the blob exceeds ${max} octets` });
    }
    chunks.push(chunk);
  }
  if (notFound.length) {
    throw new SetFailure({ type: "blobNotFound", notFound: [...new Set(notFound)] });
  }
  const bytes = concat(chunks, total);
  const stored = type ?? "application/octet-stream";
  const hash = await storeUpload(ctx.app, ctx.limits.uploadTtl, ctx.account.id, bytes, stored);
  return { id: blobId(hash), type: stored, size: bytes.length };
}

/** The octets of one DataSourceObject; null (with the id in `notFound`) for a missing blob. */
async function readSource(
  source: unknown,
  path: string,
  ctx: MethodContext,
  notFound: string[],
): Promise<Uint8Array | null> {
  const invalid = (description: string) => invalidProperties([path], description);
  if (!isPlainObject(source)) throw invalid("a data source must be an object");
  const kinds = ["data:asText", "data:asBase64", "blobId"].filter((key) => key in source);
  if (kinds.length !== 1) {
    throw invalid("a data source has exactly one of data:asText, data:asBase64 and blobId");
  }
  const allowed = kinds[0] === "blobId" ? ["blobId", "offset", "length"] : kinds;
  if (Object.keys(source).some((key) => !allowed.includes(key))) {
    throw invalid(`unknown property in a ${kinds[0]} source`);
  }
  const value = source[kinds[0]] ?? (kinds[0] === "blobId" ? undefined : "");
  if (typeof value !== "string") throw invalid(`${kinds[0]} must be a string`);
  if (kinds[0] === "data:asText") {
    if (!value.isWellFormed()) throw invalid("data:asText is not valid Unicode");
    return new TextEncoder().encode(value);
  }
  if (kinds[0] === "data:asBase64") {
    try {
      return Uint8Array.fromBase64(value);
    } catch {
      throw invalid("data:asBase64 is not valid base64");
    }
  }
  let offset: number | null;
  let length: number | null;
  try {
    offset = optionalUnsigned(source, "offset");
    length = optionalUnsigned(source, "length");
  } catch {
    throw invalid("offset and length must be unsigned integers or null");
  }
  const id = resolveCreationId(ctx, value);
  const blob = await readBlob(ctx.app, ctx.account.id, id);
  if (!blob) {
    notFound.push(id);
    return null;
  }
  const start = offset ?? 0;
  const end = length === null ? blob.bytes.length : start + length;
  // RFC 9404 4.1: a range that begins or ends past the blob's end makes the source invalid.
  if (start > blob.bytes.length || end > blob.bytes.length) {
    throw invalid(`the range ends past the blob's ${blob.bytes.length} octets`);
  }
  return blob.bytes.subarray(start, end);
}

// ---- Blob/get (RFC 9404 4.2) ----

async function get(args: Args, ctx: MethodContext): Promise<Args> {
  const { ids, properties } = readGetArgs(args, ctx, ["offset", "length"]);
  const selected = selectProperties(properties, GET_PROPERTIES, ["data", "size"]);
  if (ids === null) throw new MethodError("requestTooLarge", "Blob/get needs ids");
  const offset = optionalUnsigned(args, "offset") ?? 0;
  const length = optionalUnsigned(args, "length");
  const list: Args[] = [];
  const notFound: string[] = [];
  for (const id of ids) {
    const blob = await readBlob(ctx.app, ctx.account.id, id);
    if (!blob) {
      notFound.push(id);
      continue;
    }
    const size = blob.bytes.length;
    const end = length === null ? size : offset + length;
    const range = blob.bytes.subarray(Math.min(offset, size), Math.min(end, size));
    const object: Args = { id };
    // RFC 9404 4.2: a range past the end gives what there is, and says so.
    if (offset > size || end > size) object.isTruncated = true;
    let text: string | null | undefined;
    const asText = () => text !== undefined ? text : (text = utf8(range));
    for (const property of selected) {
      if (property === "data:asText" || property === "data") {
        const decoded = asText();
        if (decoded === null) object.isEncodingProblem = true;
        if (property === "data:asText") object["data:asText"] = decoded;
        else if (decoded !== null) object["data:asText"] = decoded;
        else object["data:asBase64"] = range.toBase64();
      } else if (property === "data:asBase64") {
        object["data:asBase64"] = range.toBase64();
      } else if (property === "size") {
        object.size = size;
      } else if (property.startsWith("digest:")) {
        const algorithm = DIGESTS[property.slice("digest:".length)];
        object[property] = createHash(algorithm).update(range).digest("base64");
      }
    }
    list.push(object);
  }
  return { accountId: ctx.accountId, list, notFound };
}

function utf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

// ---- Blob/lookup (RFC 9404 4.3) ----

async function lookup(args: Args, ctx: MethodContext): Promise<Args> {
  allowOnly(args, ["accountId", "typeNames", "ids"]);
  requireAccount(args, ctx);
  const typeNames = stringList(args, "typeNames");
  for (const name of typeNames) {
    // Every supported type belongs to the mail capability, which the request must use.
    if (!(TYPE_NAMES as readonly string[]).includes(name) || !ctx.using.has(MAIL)) {
      throw new MethodError("unknownDataType", `cannot look up blobs in ${name}`);
    }
  }
  const ids = [...new Set(stringList(args, "ids").map((id) => resolveCreationId(ctx, id)))];
  if (ids.length > ctx.limits.maxObjectsInGet) {
    throw new MethodError("requestTooLarge", `at most ${ctx.limits.maxObjectsInGet} ids`);
  }
  const found = new Map<string, string>();
  const notFound: string[] = [];
  for (const id of ids) {
    const hash = blobHashOf(id) ?? parsePartBlobId(id)?.hash;
    if (hash && await blobExists(ctx.app, ctx.account.id, id)) found.set(id, hash);
    else notFound.push(id);
  }
  const refs = await ctx.app.store.emailsByBlob(ctx.account.id, [...found.values()]);
  const list: Args[] = [];
  for (const [id, hash] of found) {
    const emails = refs.filter((ref) => ref.blobHash === hash);
    const matched: Record<string, string[]> = {};
    for (const name of typeNames) {
      if (name === "Email") matched[name] = emails.map((e) => toJmapId("email", e.emailId));
      if (name === "Thread") {
        matched[name] = [...new Set(emails.map((e) => e.threadId))].map((n) =>
          toJmapId("thread", n)
        );
      }
      if (name === "Mailbox") {
        matched[name] = [...new Set(emails.flatMap((e) => e.mailboxIds))].sort((a, b) => a - b)
          .map((n) => toJmapId("mailbox", n));
      }
    }
    list.push({ id, matchedIds: matched });
  }
  return { accountId: ctx.accountId, list, notFound };
}

// ---- helpers ----

function stringList(args: Args, key: string): string[] {
  const value = args[key];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    fail(`${key} must be a list of strings`);
  }
  return value as string[];
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function withoutUndefined(error: SetError): SetError {
  const result: SetError = { type: error.type };
  for (const [key, value] of Object.entries(error)) if (value !== undefined) result[key] = value;
  return result;
}

export const methods: Record<string, MethodSpec> = {
  "Blob/upload": { capability: BLOB, handler: upload },
  "Blob/get": { capability: BLOB, handler: get },
  "Blob/lookup": { capability: BLOB, handler: lookup },
};

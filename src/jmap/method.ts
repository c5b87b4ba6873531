/**
 * What every JMAP method shares: the context it runs in, its errors, and readers for its
 * arguments that answer `invalidArguments` (RFC 8620 3.6.2) instead of trusting the client.
 */
import type { App } from "../app.ts";
import type { Account } from "../store/types.ts";
import type { JmapLimits } from "./limits.ts";
import type { JmapCaches } from "./caches.ts";
import type { OutboundQueue } from "../smtp/outbound/queue.ts";

export type Args = Record<string, unknown>;

/** A method-level error (RFC 8620 3.6.2): becomes ["error", {type, description}, callId]. */
export class MethodError extends Error {
  constructor(
    readonly type: string,
    description?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(description ?? type);
    this.name = "MethodError";
  }

  toArgs(): Args {
    return {
      type: this.type,
      ...(this.message !== this.type ? { description: this.message } : {}),
      ...this.extra,
    };
  }
}

/** A per-record failure in /set and /copy (RFC 8620 5.3). */
export interface SetError {
  type: string;
  description?: string;
  properties?: string[];
  [key: string]: unknown;
}

export class SetFailure extends Error {
  constructor(readonly error: SetError) {
    super(error.description ?? error.type);
  }
}

export function invalidProperties(properties: string[], description?: string): SetFailure {
  return new SetFailure({ type: "invalidProperties", properties, description });
}

export interface MethodContext {
  app: App;
  limits: JmapLimits;
  caches: JmapCaches;
  account: Account;
  /** The account's JMAP id. */
  accountId: string;
  /** The capabilities the request declared in `using`. */
  using: Set<string>;
  /** Creation id → server id, across the whole request (RFC 8620 5.3). */
  createdIds: Map<string, string>;
  /** The call id of the method being run. */
  callId: string;
  /** Adds a response after the current one, with the same call id (implicit calls). */
  respond(name: string, args: Args): void;
  /** Runs another method of the request as an implicit call (e.g. onSuccessUpdateEmail). */
  call(name: string, args: Args): Promise<void>;
  /** The HTTP client's IP, for logs and limits. */
  ip: string;
  /** The outbound queue (EmailSubmission, vacation replies); null in tools without one. */
  queue: OutboundQueue | null;
}

export type MethodHandler = (args: Args, ctx: MethodContext) => Promise<Args>;

export interface MethodSpec {
  capability: string;
  handler: MethodHandler;
}

// ---- argument readers ----

export function fail(description: string): never {
  throw new MethodError("invalidArguments", description);
}

/** Checks `accountId` names the account the request is for (accountNotFound otherwise). */
export function requireAccount(args: Args, ctx: MethodContext, key = "accountId"): string {
  const value = args[key];
  if (typeof value !== "string") fail(`${key} must be a string`);
  if (value !== ctx.accountId) throw new MethodError("accountNotFound");
  return value;
}

/** Rejects arguments the method does not define (RFC 8620 3.3: unknown ones are an error). */
export function allowOnly(args: Args, keys: readonly string[]): void {
  for (const key of Object.keys(args)) {
    if (!keys.includes(key)) fail(`unknown argument ${key}`);
  }
}

export function optionalString(args: Args, key: string): string | null {
  const value = args[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") fail(`${key} must be a string or null`);
  return value;
}

export function optionalBoolean(args: Args, key: string, fallback: boolean): boolean {
  const value = args[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") fail(`${key} must be a boolean`);
  return value;
}

/** An UnsignedInt (RFC 8620 1.3) or null. */
export function optionalUnsigned(args: Args, key: string): number | null {
  const value = args[key];
  if (value === undefined || value === null) return null;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    fail(`${key} must be an unsigned integer`);
  }
  return value as number;
}

/** An Int (RFC 8620 1.3) or the fallback. */
export function optionalInt(args: Args, key: string, fallback: number): number {
  const value = args[key];
  if (value === undefined || value === null) return fallback;
  if (!Number.isSafeInteger(value)) fail(`${key} must be an integer`);
  return value as number;
}

export function optionalStringList(args: Args, key: string): string[] | null {
  const value = args[key];
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    fail(`${key} must be a list of strings`);
  }
  return value as string[];
}

export function optionalObject(args: Args, key: string): Record<string, unknown> | null {
  const value = args[key];
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) fail(`${key} must be an object`);
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The Id syntax of RFC 8620 1.2. */
export function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 255 &&
    /^[A-Za-z0-9_-]+$/.test(value);
}

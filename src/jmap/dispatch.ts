/**
 * The JMAP API request (RFC 8620 3): parse and check the request object, then run its method
 * calls in order, resolving result references and creation ids between them.
 *
 * Implementation notes:
 * - Request-level failures (RFC 8620 3.6.1) are RequestProblem values that the HTTP layer
 *   answers as RFC 7807 problem details; nothing here writes HTTP.
 * - A method whose capability is not in `using` is an unknownMethod, as is an unknown name.
 * - A result reference (`#name` argument) names an earlier response by call id and method
 *   name; the path is a JSON Pointer where `*` maps over an array and flattens (RFC 8620 3.7).
 * - A thrown MethodError becomes ["error", …]; anything else is logged and answered
 *   serverFail, so one broken method never fails the whole request.
 */
import { StoreError } from "../store/types.ts";
import { logger } from "../observability/log.ts";
import {
  type Args,
  isPlainObject,
  type MethodContext,
  MethodError,
  type MethodSpec,
} from "./method.ts";

const log = logger("jmap");

export type MethodCall = [string, Args, string];

export interface JmapRequest {
  using: string[];
  methodCalls: MethodCall[];
  createdIds?: Record<string, string>;
}

export interface JmapResponse {
  methodResponses: MethodCall[];
  createdIds?: Record<string, string>;
  sessionState: string;
}

/** A request-level error (RFC 8620 3.6.1), answered as problem details. */
export class RequestProblem extends Error {
  constructor(
    readonly type: "notJSON" | "notRequest" | "unknownCapability" | "limit",
    readonly status: number,
    detail: string,
    readonly limit?: string,
  ) {
    super(detail);
  }

  toJson(): Record<string, unknown> {
    return {
      type: `urn:ietf:params:jmap:error:${this.type}`,
      status: this.status,
      detail: this.message,
      ...(this.limit ? { limit: this.limit } : {}),
    };
  }
}

/** Parses and checks a request body. Throws RequestProblem. */
export function parseRequest(
  text: string,
  capabilities: Set<string>,
  maxCallsInRequest: number,
): JmapRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RequestProblem("notJSON", 400, "The request body is not valid JSON.");
  }
  return checkRequest(value, capabilities, maxCallsInRequest);
}

export function checkRequest(
  value: unknown,
  capabilities: Set<string>,
  maxCallsInRequest: number,
): JmapRequest {
  const notRequest = (detail: string) => new RequestProblem("notRequest", 400, detail);
  if (!isPlainObject(value)) throw notRequest("The request is not a JSON object.");
  const { using, methodCalls, createdIds } = value;
  if (!Array.isArray(using) || using.some((item) => typeof item !== "string")) {
    throw notRequest("`using` must be a list of capability strings.");
  }
  if (!Array.isArray(methodCalls)) throw notRequest("`methodCalls` must be a list.");
  for (const call of methodCalls) {
    if (
      !Array.isArray(call) || call.length !== 3 || typeof call[0] !== "string" ||
      !isPlainObject(call[1]) || typeof call[2] !== "string"
    ) {
      throw notRequest("Each method call must be [name, arguments object, call id].");
    }
  }
  if (createdIds !== undefined) {
    if (
      !isPlainObject(createdIds) || Object.values(createdIds).some((id) => typeof id !== "string")
    ) {
      throw notRequest("`createdIds` must map creation ids to ids.");
    }
  }
  for (const capability of using as string[]) {
    if (!capabilities.has(capability)) {
      throw new RequestProblem(
        "unknownCapability",
        400,
        `The server does not support the capability "${capability}".`,
      );
    }
  }
  if (methodCalls.length > maxCallsInRequest) {
    throw new RequestProblem(
      "limit",
      400,
      `The request has ${methodCalls.length} method calls; the limit is ${maxCallsInRequest}.`,
      "maxCallsInRequest",
    );
  }
  return {
    using: using as string[],
    methodCalls: methodCalls as MethodCall[],
    createdIds: createdIds as Record<string, string> | undefined,
  };
}

export type BaseContext = Omit<
  MethodContext,
  "using" | "createdIds" | "callId" | "respond" | "call"
>;

/** Runs the method calls of a checked request in order. */
export async function runRequest(
  request: JmapRequest,
  base: BaseContext,
  methods: Map<string, MethodSpec>,
  sessionState: string,
): Promise<JmapResponse> {
  const using = new Set(request.using);
  const createdIds = new Map(Object.entries(request.createdIds ?? {}));
  const responses: MethodCall[] = [];
  // `out` receives this call's response and then those of its implicit calls.
  const run = async (name: string, rawArgs: Args, callId: string, out: MethodCall[]) => {
    const spec = methods.get(name);
    if (!spec || !using.has(spec.capability)) {
      out.push(["error", { type: "unknownMethod" }, callId]);
      return;
    }
    const after: MethodCall[] = [];
    const ctx: MethodContext = {
      ...base,
      using,
      createdIds,
      callId,
      respond: (responseName, args) => after.push([responseName, args, callId]),
      call: (callName, args) => run(callName, args, callId, after),
    };
    try {
      const args = out === responses ? resolveReferences(rawArgs, responses) : rawArgs;
      out.push([name, await spec.handler(args, ctx), callId]);
      for (const response of after) out.push(response);
    } catch (error) {
      out.push(["error", errorArgs(error, name, base), callId]);
    }
  };
  for (const [name, args, callId] of request.methodCalls) {
    await run(name, args, callId, responses);
  }
  return {
    methodResponses: responses,
    ...(request.createdIds !== undefined ? { createdIds: Object.fromEntries(createdIds) } : {}),
    sessionState,
  };
}

function errorArgs(error: unknown, name: string, base: BaseContext): Args {
  if (error instanceof MethodError) return error.toArgs();
  if (error instanceof StoreError && error.code === "not_found") {
    return { type: "accountNotFound", description: error.message };
  }
  log.error("method failed", { method: name, account: base.account.address, error });
  return { type: "serverFail", description: "The server failed to process the method." };
}

/** Replaces `#name` arguments by the values they point at (RFC 8620 3.7). */
export function resolveReferences(args: Args, responses: MethodCall[]): Args {
  const resolved: Args = {};
  for (const [key, value] of Object.entries(args)) {
    if (!key.startsWith("#")) {
      resolved[key] = value;
      continue;
    }
    const plain = key.slice(1);
    if (Object.hasOwn(args, plain)) {
      throw new MethodError("invalidArguments", `both ${plain} and ${key} are given`);
    }
    if (
      !isPlainObject(value) || typeof value.resultOf !== "string" ||
      typeof value.name !== "string" || typeof value.path !== "string"
    ) {
      throw new MethodError("invalidResultReference", `${key} is not a result reference`);
    }
    const source = responses.find(([name, , callId]) =>
      callId === value.resultOf && name === value.name
    );
    if (!source) {
      throw new MethodError(
        "invalidResultReference",
        `no ${value.name} response with call id ${value.resultOf}`,
      );
    }
    resolved[plain] = evaluatePointer(source[1], value.path as string);
  }
  return resolved;
}

/** JSON Pointer (RFC 6901) with the JMAP `*` extension. Throws invalidResultReference. */
export function evaluatePointer(value: unknown, path: string): unknown {
  if (path === "") return value;
  if (!path.startsWith("/")) {
    throw new MethodError("invalidResultReference", `bad path ${path}`);
  }
  const tokens = path.slice(1).split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  return walk(value, tokens, path);
}

function walk(value: unknown, tokens: string[], path: string): unknown {
  if (tokens.length === 0) return value;
  const [token, ...rest] = tokens;
  if (Array.isArray(value)) {
    if (token === "*") {
      const out: unknown[] = [];
      for (const item of value) {
        const result = walk(item, rest, path);
        if (Array.isArray(result)) { for (const inner of result) out.push(inner); }
        else out.push(result);
      }
      return out;
    }
    if (/^(0|[1-9][0-9]*)$/.test(token) && Number(token) < value.length) {
      return walk(value[Number(token)], rest, path);
    }
  } else if (isPlainObject(value) && Object.hasOwn(value, token)) {
    return walk(value[token], rest, path);
  }
  throw new MethodError("invalidResultReference", `path ${path} does not resolve`);
}

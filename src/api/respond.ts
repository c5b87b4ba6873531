/**
 * How the management API answers: JSON bodies, and errors as
 * `{"error": {"type": "...", "message": "..."}}` with a 4xx status a client can act on.
 *
 * Implementation notes:
 * - A request body is read with the [admin] max_request_size cap before it is parsed (413 past
 *   it), must be `application/json` (415 otherwise: a cross-site HTML form cannot send that type
 *   without a CORS preflight), and is validated with a zod schema (400 with the first issue).
 * - DirectoryError and StoreError values a caller can cause map to 400/404/409; anything else is
 *   an internal error, logged and answered 500 without details.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { DirectoryError } from "../directory/directory.ts";
import { StoreError } from "../store/types.ts";
import { readCapped } from "../jmap/http.ts";

/** Every `error.type` the API answers with. */
export const API_ERROR_TYPES = [
  "unauthorized",
  "tokenRequired",
  "forbidden",
  "tlsRequired",
  "crossOrigin",
  "rateLimited",
  "notFound",
  "invalidJson",
  "invalidRequest",
  "conflict",
  "payloadTooLarge",
  "unsupportedMediaType",
  "internal",
] as const;

export type ApiErrorType = typeof API_ERROR_TYPES[number];

/** An error a client caused, with the status and type it is answered with. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500,
    readonly type: ApiErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The JSON error response for `error`. */
export function errorResponse(error: ApiError): Response {
  return new Response(
    JSON.stringify({ error: { type: error.type, message: error.message } }),
    {
      status: error.status,
      headers: { "content-type": "application/json", ...error.headers },
    },
  );
}

/** The ApiError a thrown value stands for, or null for an internal failure. */
export function asApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof DirectoryError || error instanceof StoreError) {
    if (error.code === "not_found") return new ApiError(404, "notFound", error.message);
    if (error.code === "conflict") return new ApiError(409, "conflict", error.message);
    if (error.code === "invalid") return new ApiError(400, "invalidRequest", error.message);
  }
  return null;
}

/**
 * Reads, parses and validates the JSON body of `c` against `schema`; throws ApiError.
 *
 * @example
 * const { name } = await readJson(c, z.object({ name: z.string() }), 1 << 20);
 */
export async function readJson<T extends z.ZodTypeAny>(
  c: Context,
  schema: T,
  maxBytes: number,
): Promise<z.infer<T>> {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new ApiError(415, "unsupportedMediaType", "The body must be application/json.");
  }
  const bytes = await readCapped(c.req.raw, maxBytes);
  if (bytes === null) {
    throw new ApiError(413, "payloadTooLarge", `The body is larger than ${maxBytes} bytes.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, "invalidJson", "The body is not valid UTF-8 JSON.");
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
    throw new ApiError(400, "invalidRequest", `${where}${issue.message}`);
  }
  return result.data;
}

/** A positive integer path parameter (a queue or token id); throws 404 for anything else. */
export function idParam(text: string, what: string): number {
  const id = Number(text);
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(id)) {
    throw new ApiError(404, "notFound", `no ${what} ${JSON.stringify(text)}`);
  }
  return id;
}

/**
 * What the server-rendered pages (/admin and /account) share at the HTTP level: their security
 * headers and how a form body is read.
 */
import { readCapped } from "../jmap/http.ts";

/** No script, no framing, no caching, nothing sent elsewhere. */
export const PAGE_SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/** The urlencoded form of a request, at most `max` bytes; null otherwise. */
export async function readForm(request: Request, max: number): Promise<URLSearchParams | null> {
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return null;
  const bytes = await readCapped(request, max);
  if (bytes === null) return null;
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

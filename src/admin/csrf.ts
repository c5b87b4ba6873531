/**
 * CSRF protection for the web admin's forms: each session has a random token (session.ts); every
 * form carries it in the hidden field `_csrf`, and a POST whose field is missing or differs is
 * refused with 403 before anything else runs. The login form, which has no session yet, carries
 * a token that must match a short-lived cookie of its own (double submit).
 */

/** The name of the hidden form field. */
export const CSRF_FIELD = "_csrf";

/**
 * True when `submitted` is the session's token; compared in constant time.
 *
 * @example
 * if (!csrfValid(session.csrfToken, form.get(CSRF_FIELD))) return c.text("Forbidden", 403);
 */
export function csrfValid(expected: string, submitted: string | null | undefined): boolean {
  if (typeof submitted !== "string" || expected.length === 0) return false;
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(submitted);
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/**
 * How the web admin answers: a page in the frame (layout.tsx) with the session's one-shot flash,
 * or, after a form, a redirect whose flash says what happened (POST/redirect/GET).
 */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { z } from "zod";
import { asApiError } from "../api/respond.ts";
import { Page } from "./layout.tsx";
import type { AdminEnv } from "./mod.ts";

export type Ctx = Context<AdminEnv>;

/** A form refused before anything ran: its message is the flash. */
export class FormError extends Error {}

/** The body of a form validated with an API schema; throws FormError with the first issue. */
export function parse<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue.path.length ? `${issue.path.join(".")}: ` : "";
  throw new FormError(`${where}${issue.message}`);
}

/** A form field, or undefined when it is absent or blank. */
export function field(form: URLSearchParams, name: string): string | undefined {
  const value = form.get(name)?.trim();
  return value ? value : undefined;
}

/** The page `body` in the frame, with the session's flash (then cleared). */
export function render(c: Ctx, title: string, body: Child) {
  const session = c.get("session");
  const flash = session.flash;
  session.flash = null;
  return c.html(<Page title={title} session={session} flash={flash}>{body}</Page>);
}

/**
 * Runs a form's action, then redirects to `back` with its outcome as the flash: its message,
 * or the error a user caused (FormError, or what the API would answer 4xx). Other errors are
 * internal and propagate (500, logged).
 */
export async function act(
  c: Ctx,
  back: string,
  action: (form: URLSearchParams) => Promise<string>,
) {
  const session = c.get("session");
  try {
    session.flash = { kind: "ok", text: await action(c.get("form")) };
  } catch (error) {
    const known = error instanceof FormError ? error : asApiError(error);
    if (!known) throw error;
    session.flash = { kind: "error", text: known.message };
  }
  return c.redirect(back, 303);
}

/**
 * SMTP AUTH (RFC 4954) for the submission listeners (RFC 6409): runs a SASL exchange over the
 * session's lines, checks the credentials with the directory, and decides whether an
 * authenticated account may use a given envelope sender.
 *
 * Implementation notes:
 * - A wrong password and an unknown user get the same 535 (the directory takes as long for
 *   both); a disabled account does too.
 * - The rate limiter's verdict is a 454 (RFC 4954 6): temporary, so clients retry later.
 */
import type { Directory } from "../directory/directory.ts";
import { SaslError, startSasl } from "../directory/sasl.ts";
import type { Account } from "../store/types.ts";
import { reply } from "./wire/reply.ts";
import { authentications } from "../observability/metrics.ts";

/** The lines an exchange needs from the session: write a challenge, read the answer. */
export interface AuthIo {
  write(text: string): Promise<void>;
  /** The client's next line without CRLF; throws when the connection ended. */
  readLine(): Promise<string>;
}

export type AuthOutcome =
  | { ok: true; account: Account; reply: string }
  | { ok: false; reply: string };

/**
 * Runs `AUTH mechanism [initial-response]` to its end.
 *
 * @example
 * const outcome = await smtpAuth(io, directory, "192.0.2.1", "PLAIN", "AGFsaWNlAHB3");
 * // { ok: true, account, reply: "235 2.7.0 Authentication successful\r\n" }
 */
export async function smtpAuth(
  io: AuthIo,
  directory: Directory,
  ip: string,
  mechanism: string,
  initialResponse: string | undefined,
): Promise<AuthOutcome> {
  let credentials;
  try {
    // parseCommand turns an initial response of "=" into ""; SASL wants the "=" back.
    const exchange = startSasl(
      mechanism,
      initialResponse === undefined ? null : initialResponse || "=",
    );
    let step = exchange.step(null);
    while ("challenge" in step) {
      await io.write(`334 ${step.challenge}\r\n`);
      step = exchange.step(await io.readLine());
    }
    credentials = step.done;
  } catch (error) {
    if (!(error instanceof SaslError)) throw error;
    return { ok: false, reply: saslErrorReply(error) };
  }
  if (credentials.authzid !== "" && credentials.authzid !== credentials.authcid) {
    // RFC 4616 2: acting as someone else is not supported.
    return { ok: false, reply: reply(535, "5.7.8", "Authentication credentials invalid") };
  }
  const result = await directory.authenticate(credentials.authcid, credentials.password, ip);
  authentications.inc({ protocol: "submission", result: result.ok ? "ok" : "failed" });
  if (result.ok) {
    return {
      ok: true,
      account: result.account,
      reply: reply(235, "2.7.0", "Authentication successful"),
    };
  }
  if (result.reason === "rate_limited") {
    return { ok: false, reply: reply(454, "4.7.0", "Temporary authentication failure") };
  }
  return { ok: false, reply: reply(535, "5.7.8", "Authentication credentials invalid") };
}

function saslErrorReply(error: SaslError): string {
  switch (error.reason) {
    case "cancelled":
      return reply(501, "5.0.0", "Authentication cancelled"); // RFC 4954 4
    case "unsupported":
      return reply(504, "5.5.4", "Unrecognized authentication type");
    case "malformed":
      return reply(501, "5.5.2", "Cannot decode response");
  }
}

/**
 * Whether `account` may send as `address`: its own address, or one the directory resolves to it
 * (an alias, a sub-address).
 */
export async function ownsSender(
  directory: Directory,
  account: Account,
  address: string,
): Promise<boolean> {
  if (address.toLowerCase() === account.address.toLowerCase()) return true;
  let resolved;
  try {
    resolved = await directory.resolveRecipient(address);
  } catch {
    return false;
  }
  return resolved?.accounts.some((target) => target.id === account.id) ?? false;
}

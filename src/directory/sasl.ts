/**
 * SASL mechanisms, apart from any wire: SMTP AUTH (RFC 4954), IMAP AUTHENTICATE (RFC 9051 6.2.2),
 * POP3 AUTH (RFC 5034) and ManageSieve AUTHENTICATE (RFC 5804 2.1) each carry the same base64
 * lines; this module turns those lines into credentials. The protocol code writes the challenge
 * with its own prefix (`334 `, `+ `, `+ `, a quoted string) and maps a SaslError to its own reply.
 *
 * Implementation notes:
 * - An exchange is driven by step(): the first call passes null (nothing from the client yet)
 *   and answers the initial response if there was one, otherwise the first challenge. Each later
 *   call passes one client line exactly as received, without CRLF. After `done` or a thrown
 *   SaslError the exchange is over; stepping it again is a programming error (plain Error).
 * - Base64 is strict (RFC 4648 4): the standard alphabet, padding to a multiple of four, no
 *   whitespace, no stray bits. A line of "*" cancels (RFC 4954 4, RFC 9051 6.2.2). An empty line
 *   or "=" is an empty response. An initial response is "=" when empty (RFC 4954 4, RFC 4959 3);
 *   an empty string there is malformed.
 * - Credentials are returned as the client sent them: no SASLprep, no case folding. The
 *   directory decides how names compare, and password hashes migrated from Dovecot were made
 *   from the exact bytes.
 * - Field limits: 255 bytes for authzid and authcid, 1024 for the password (RFC 4616 2 lets
 *   a server impose limits). Responses longer than those limits allow are refused before decoding.
 */

export type SaslMechanism = "PLAIN" | "LOGIN";

/** The mechanisms startSasl knows, in the order servers should advertise them. */
export const SASL_MECHANISMS: readonly SaslMechanism[] = Object.freeze(["PLAIN", "LOGIN"]);

export type SaslErrorReason = "malformed" | "cancelled" | "unsupported";

/**
 * A failure the client caused. `malformed` → SMTP 501 5.5.2, IMAP BAD; `cancelled` → SMTP
 * 501 5.7.0, IMAP BAD; `unsupported` → SMTP 504 5.5.4, IMAP NO.
 */
export class SaslError extends Error {
  constructor(readonly reason: SaslErrorReason, message: string) {
    super(message);
    this.name = "SaslError";
  }
}

export interface SaslCredentials {
  /** Authorization identity; "" when the client asks to act as itself. */
  authzid: string;
  /** Authentication identity: the login name. */
  authcid: string;
  password: string;
}

/**
 * A stateful exchange: feed client responses (base64 text as received, "*" means cancel) and get
 * either a challenge to send (base64 text, possibly "") or the final credentials.
 */
export interface SaslExchange {
  step(clientResponse: string | null): { challenge: string } | { done: SaslCredentials };
}

const MAX_AUTHZID_BYTES = 255;
const MAX_AUTHCID_BYTES = 255;
const MAX_PASSWORD_BYTES = 1024;
const MAX_PLAIN_BYTES = MAX_AUTHZID_BYTES + MAX_AUTHCID_BYTES + MAX_PASSWORD_BYTES + 2;

/** base64("Username:") and base64("Password:"), the challenges every LOGIN client expects. */
const LOGIN_USERNAME_CHALLENGE = "VXNlcm5hbWU6";
const LOGIN_PASSWORD_CHALLENGE = "UGFzc3dvcmQ6";

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Starts an exchange for a mechanism name as the client wrote it (case-insensitive).
 * Throws SaslError("unsupported") for any other mechanism.
 * @example
 * const exchange = startSasl("PLAIN", "AHRlc3QAdGVzdA==");
 * const result = exchange.step(null); // { done: { authzid: "", authcid: "test", password: "test" } }
 */
export function startSasl(mechanism: string, initialResponse?: string | null): SaslExchange {
  const name = mechanism.toUpperCase();
  const initial = initialResponse ?? null;
  if (name === "PLAIN") return new PlainExchange(initial);
  if (name === "LOGIN") return new LoginExchange(initial);
  throw new SaslError("unsupported", `unsupported SASL mechanism ${JSON.stringify(mechanism)}`);
}

/**
 * Splits a decoded PLAIN message (RFC 4616 2): `[authzid] NUL authcid NUL passwd`, UTF-8.
 * @example
 * decodePlain(new TextEncoder().encode("\0alice\0s3cret")); // { authzid: "", authcid: "alice", … }
 */
export function decodePlain(bytes: Uint8Array): SaslCredentials {
  if (bytes.length > MAX_PLAIN_BYTES) throw malformed("PLAIN message too long");
  const first = bytes.indexOf(0);
  const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
  if (first < 0 || second < 0) throw malformed("PLAIN message needs two NUL separators");
  if (bytes.indexOf(0, second + 1) >= 0) throw malformed("PLAIN message has more than two NULs");
  return {
    authzid: decodeField(bytes.subarray(0, first), "authzid", MAX_AUTHZID_BYTES, true),
    authcid: decodeField(bytes.subarray(first + 1, second), "authcid", MAX_AUTHCID_BYTES, false),
    password: decodeField(bytes.subarray(second + 1), "password", MAX_PASSWORD_BYTES, false),
  };
}

class PlainExchange implements SaslExchange {
  #state: "start" | "response" | "over" = "start";

  constructor(private readonly initialResponse: string | null) {}

  step(clientResponse: string | null): { challenge: string } | { done: SaslCredentials } {
    const state = this.#state;
    this.#state = "over";
    if (state === "start") {
      expectNull(clientResponse);
      if (this.initialResponse === null) {
        this.#state = "response";
        return { challenge: "" };
      }
      return { done: decodePlain(decodeInitialResponse(this.initialResponse, MAX_PLAIN_BYTES)) };
    }
    if (state === "response") {
      return {
        done: decodePlain(decodeClientResponse(expectLine(clientResponse), MAX_PLAIN_BYTES)),
      };
    }
    throw new Error("SASL PLAIN exchange already finished");
  }
}

class LoginExchange implements SaslExchange {
  #state: "start" | "username" | "password" | "over" = "start";
  #username = "";

  constructor(private readonly initialResponse: string | null) {}

  step(clientResponse: string | null): { challenge: string } | { done: SaslCredentials } {
    const state = this.#state;
    this.#state = "over";
    switch (state) {
      case "start":
        expectNull(clientResponse);
        if (this.initialResponse === null) {
          this.#state = "username";
          return { challenge: LOGIN_USERNAME_CHALLENGE };
        }
        this.#username = decodeField(
          decodeInitialResponse(this.initialResponse, MAX_AUTHCID_BYTES),
          "username",
          MAX_AUTHCID_BYTES,
          false,
        );
        this.#state = "password";
        return { challenge: LOGIN_PASSWORD_CHALLENGE };
      case "username":
        this.#username = decodeField(
          decodeClientResponse(expectLine(clientResponse), MAX_AUTHCID_BYTES),
          "username",
          MAX_AUTHCID_BYTES,
          false,
        );
        this.#state = "password";
        return { challenge: LOGIN_PASSWORD_CHALLENGE };
      case "password": {
        const password = decodeField(
          decodeClientResponse(expectLine(clientResponse), MAX_PASSWORD_BYTES),
          "password",
          MAX_PASSWORD_BYTES,
          false,
        );
        return { done: { authzid: "", authcid: this.#username, password } };
      }
      case "over":
        throw new Error("SASL LOGIN exchange already finished");
    }
  }
}

function expectNull(clientResponse: string | null): void {
  if (clientResponse !== null) {
    throw new Error("the first step of a SASL exchange takes null, not a client response");
  }
}

function expectLine(clientResponse: string | null): string {
  if (clientResponse === null) throw new Error("SASL step after a challenge needs the client line");
  return clientResponse;
}

/** RFC 4954 4: an initial response of "=" is empty; "*" has no meaning there. */
function decodeInitialResponse(text: string, maxBytes: number): Uint8Array {
  if (text === "=") return new Uint8Array(0);
  if (text === "") throw malformed('empty initial response (an empty one is sent as "=")');
  return decodeStrictBase64(text, maxBytes);
}

/** A client line answering a challenge: "*" cancels; "" and "=" are empty. */
function decodeClientResponse(text: string, maxBytes: number): Uint8Array {
  if (text === "*") throw new SaslError("cancelled", "authentication cancelled by the client");
  if (text === "" || text === "=") return new Uint8Array(0);
  return decodeStrictBase64(text, maxBytes);
}

const BASE64_SHAPE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function decodeStrictBase64(text: string, maxBytes: number): Uint8Array {
  if (text.length > Math.ceil(maxBytes / 3) * 4) throw malformed("response too long");
  if (!BASE64_SHAPE.test(text)) throw malformed("response is not valid base64");
  const binary = atob(text);
  // Non-zero bits after the last full byte would re-encode differently (RFC 4648 3.5).
  if (btoa(binary) !== text) throw malformed("response is not canonical base64");
  if (binary.length > maxBytes) throw malformed("response too long");
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function decodeField(bytes: Uint8Array, name: string, maxBytes: number, mayBeEmpty: boolean) {
  if (bytes.length === 0 && !mayBeEmpty) throw malformed(`empty ${name}`);
  if (bytes.length > maxBytes) throw malformed(`${name} longer than ${maxBytes} bytes`);
  if (bytes.includes(0)) throw malformed(`NUL in ${name}`);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw malformed(`${name} is not UTF-8`);
  }
}

function malformed(message: string): SaslError {
  return new SaslError("malformed", message);
}

/**
 * SMTP command lines (RFC 5321 4.1) into typed values, pure and I/O-free.
 *
 * Implementation notes:
 * - The line arrives without its CRLF; the line reader enforces the length limit.
 * - A client mistake is a value, never a throw: `{ verb: "INVALID", code, enhanced, text }`
 *   carries the reply the session sends (`reply(err.code, err.enhanced, err.text)`).
 * - Liberal where real clients are sloppy and it is harmless: any case for verbs and keywords,
 *   spaces after `FROM:`/`TO:`, runs of spaces between parameters, trailing spaces, a missing
 *   pair of angle brackets around a plain address. Strict where it matters: control characters
 *   anywhere, parameter values (xtext decoded values may not hide CR/LF), duplicate or unknown
 *   parameters, non-ASCII outside an SMTPUTF8 transaction.
 * - The parser knows the syntax of every parameter Postern implements; whether an extension is
 *   enabled (advertised, TLS active, authenticated) is the session's decision.
 */
import {
  type AddressLiteral,
  type Mailbox,
  parseAddressLiteral,
  parseDomain,
  parseMailbox,
  parsePath,
  type PathError,
  type SmtpPath,
} from "./path.ts";
import { decodeXtext } from "./xtext.ts";

export type BodyType = "7BIT" | "8BITMIME" | "BINARYMIME";
export type NotifyCondition = "NEVER" | "SUCCESS" | "FAILURE" | "DELAY";

/** MAIL FROM parameters (RFC 1870, 6152, 3030, 6531, 3461, 4954, 8689). */
export interface MailParams {
  size?: number;
  body?: BodyType;
  smtputf8?: true;
  ret?: "FULL" | "HDRS";
  /** xtext-decoded */
  envid?: string;
  /** xtext-decoded; null for `AUTH=<>` */
  auth?: string | null;
  requireTls?: true;
}

/** RCPT TO parameters (RFC 3461). */
export interface RcptParams {
  /** `["NEVER"]` or a set of SUCCESS/FAILURE/DELAY, in the order sent. */
  notify?: NotifyCondition[];
  /** `ORCPT=rfc822;user+40example.com` → `{ addressType: "rfc822", address: "user@example.com" }` */
  orcpt?: { addressType: string; address: string };
}

export type HeloHost =
  | { kind: "domain"; domain: string; domainUnicode: string }
  | { kind: "literal"; literal: AddressLiteral }
  /** Not a valid domain or literal; kept for logs and Received (policy may still accept it). */
  | { kind: "invalid" };

export type SmtpCommand =
  | { verb: "EHLO" | "HELO"; argument: string; host: HeloHost }
  | {
    verb: "MAIL";
    path: { kind: "null" } | { kind: "mailbox"; mailbox: Mailbox };
    params: MailParams;
  }
  | {
    verb: "RCPT";
    path: { kind: "postmaster" } | { kind: "mailbox"; mailbox: Mailbox };
    params: RcptParams;
  }
  | { verb: "DATA" }
  | { verb: "BDAT"; size: number; last: boolean }
  | { verb: "RSET" }
  | { verb: "NOOP"; text?: string }
  | { verb: "QUIT" }
  | { verb: "VRFY" | "EXPN"; argument: string }
  | { verb: "HELP"; topic?: string }
  | { verb: "STARTTLS" }
  /** `initialResponse` is the base64 text; `""` for `=` (empty), undefined when absent. */
  | { verb: "AUTH"; mechanism: string; initialResponse?: string };

export interface SmtpSyntaxError {
  verb: "INVALID";
  /** The verb the client tried (upper case), when it was recognised. */
  command?: string;
  /** The offending parameter keyword for 555 and duplicate errors. */
  parameter?: string;
  code: number;
  enhanced: string;
  text: string;
}

export interface ParseOptions {
  /**
   * SMTPUTF8 is usable. For MAIL: the server advertises it (the path may then be UTF-8 when the
   * SMTPUTF8 parameter is present). For RCPT: this transaction's MAIL carried SMTPUTF8.
   */
  smtputf8Allowed: boolean;
}

// RFC 3461 4.4 and 4.2
const MAX_ENVID = 100;
const MAX_ORCPT = 500;
const MAX_BDAT_DIGITS = 15;

function fail(
  code: number,
  enhanced: string,
  text: string,
  command?: string,
  parameter?: string,
): SmtpSyntaxError {
  const error: SmtpSyntaxError = { verb: "INVALID", code, enhanced, text };
  if (command !== undefined) error.command = command;
  if (parameter !== undefined) error.parameter = parameter;
  return error;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Parses one command line (without CRLF).
 *
 * @example
 * parseCommand("MAIL FROM:<a@example.com> SIZE=1000 BODY=8BITMIME", { smtputf8Allowed: true })
 * // { verb: "MAIL", path: { kind: "mailbox", mailbox: {...} }, params: { size: 1000, body: "8BITMIME" } }
 */
export function parseCommand(line: string, options: ParseOptions): SmtpCommand | SmtpSyntaxError {
  const match = /^ *([A-Za-z]+)(?: +(.*?))? *$/s.exec(line);
  if (!match) return fail(500, "5.5.2", "Command unrecognized");
  const verb = match[1].toUpperCase();
  const argument = match[2] ?? "";
  if (CONTROL.test(line)) {
    return KNOWN_VERBS.has(verb)
      ? fail(501, "5.5.2", "Syntax error: control character in command", verb)
      : fail(500, "5.5.2", "Command unrecognized");
  }
  switch (verb) {
    case "EHLO":
    case "HELO":
      if (argument === "") return fail(501, "5.5.4", `Syntax: ${verb} hostname`, verb);
      return { verb, argument, host: parseHeloHost(argument, options.smtputf8Allowed) };
    case "MAIL":
      return parseMail(argument, options);
    case "RCPT":
      return parseRcpt(argument, options);
    case "DATA":
    case "RSET":
    case "QUIT":
    case "STARTTLS":
      if (argument !== "") {
        return fail(501, "5.5.4", `Syntax: ${verb} (no parameters allowed)`, verb);
      }
      return { verb };
    case "NOOP":
      return argument === "" ? { verb } : { verb, text: argument };
    case "HELP":
      return argument === "" ? { verb } : { verb, topic: argument };
    case "VRFY":
    case "EXPN":
      if (argument === "") return fail(501, "5.5.4", `Syntax: ${verb} address`, verb);
      return { verb, argument };
    case "BDAT":
      return parseBdat(argument);
    case "AUTH":
      return parseAuth(argument);
    default:
      return fail(500, "5.5.2", "Command unrecognized");
  }
}

const KNOWN_VERBS = new Set([
  "EHLO",
  "HELO",
  "MAIL",
  "RCPT",
  "DATA",
  "BDAT",
  "RSET",
  "NOOP",
  "QUIT",
  "VRFY",
  "EXPN",
  "HELP",
  "STARTTLS",
  "AUTH",
]);

function parseHeloHost(argument: string, utf8: boolean): HeloHost {
  if (argument.startsWith("[")) {
    const literal = parseAddressLiteral(argument);
    return "kind" in literal ? { kind: "invalid" } : { kind: "literal", literal };
  }
  const domain = parseDomain(argument, utf8);
  return "kind" in domain
    ? { kind: "invalid" }
    : { kind: "domain", domain: domain.ascii, domainUnicode: domain.unicode };
}

/** Splits `<path> params` after `FROM:`/`TO:`; the path may hold quoted spaces and `>`. */
function splitPath(text: string): { path: string; bracketed: boolean; rest: string } | null {
  if (text === "") return null;
  if (!text.startsWith("<")) {
    const space = text.indexOf(" ");
    const path = space < 0 ? text : text.slice(0, space);
    return { path, bracketed: false, rest: space < 0 ? "" : text.slice(space + 1) };
  }
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === "\\") i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ">") {
      const rest = text.slice(i + 1);
      if (rest !== "" && !rest.startsWith(" ")) return null;
      return { path: text.slice(0, i + 1), bracketed: true, rest: rest.trimStart() };
    }
  }
  return null;
}

interface RawParam {
  keyword: string;
  value: string | undefined;
}

function splitParams(text: string, command: string): RawParam[] | SmtpSyntaxError {
  const params: RawParam[] = [];
  const seen = new Set<string>();
  for (const word of text.split(" ")) {
    if (word === "") continue;
    const eq = word.indexOf("=");
    const keyword = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    // RFC 5321 4.1.2: esmtp-keyword and esmtp-value (RFC 6531 3.3 adds UTF-8 to the value)
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(keyword)) {
      return fail(501, "5.5.4", "Syntax: bad parameter", command);
    }
    if (value !== undefined && (value === "" || value.includes("="))) {
      return fail(501, "5.5.4", `Syntax: bad value for ${keyword}`, command, keyword);
    }
    if (seen.has(keyword)) return fail(501, "5.5.4", "Duplicate parameter", command, keyword);
    seen.add(keyword);
    params.push({ keyword, value });
  }
  return params;
}

function pathFailure(error: PathError, sender: boolean, command: string): SmtpSyntaxError {
  if (error.reason === "utf8") {
    return fail(553, "5.6.7", "Non-ASCII address requires SMTPUTF8", command);
  }
  const enhanced = sender ? "5.1.7" : "5.1.3";
  const who = sender ? "sender" : "recipient";
  if (error.reason === "too-long") {
    return fail(501, enhanced, `Bad ${who} address: ${error.detail}`, command);
  }
  return fail(501, enhanced, `Bad ${who} address syntax`, command);
}

function parseArgumentPath(
  split: { path: string; bracketed: boolean },
  utf8: boolean,
): SmtpPath | PathError {
  if (split.bracketed) return parsePath(split.path, { utf8 });
  const mailbox = parseMailbox(split.path, utf8);
  return mailbox;
}

function parseMail(argument: string, options: ParseOptions): SmtpCommand | SmtpSyntaxError {
  const usage = fail(501, "5.5.4", "Syntax: MAIL FROM:<address>", "MAIL");
  const head = /^FROM: */i.exec(argument);
  if (!head) return usage;
  const split = splitPath(argument.slice(head[0].length));
  if (!split) return usage;
  const raw = splitParams(split.rest, "MAIL");
  if (!Array.isArray(raw)) return raw;
  const params: MailParams = {};
  for (const { keyword, value } of raw) {
    const bad = (syntax: string) => fail(501, "5.5.4", `Syntax: ${syntax}`, "MAIL", keyword);
    const noValue = (apply: () => void) => {
      if (value !== undefined) return bad(keyword);
      apply();
      return undefined;
    };
    let problem: SmtpSyntaxError | undefined;
    switch (keyword) {
      case "SIZE": // RFC 1870 6
        if (value === undefined || !/^[0-9]{1,20}$/.test(value)) problem = bad("SIZE=<number>");
        else params.size = Math.min(Number(value), Number.MAX_SAFE_INTEGER);
        break;
      case "BODY": { // RFC 6152 2, RFC 3030 3
        const body = value?.toUpperCase();
        if (body === "7BIT" || body === "8BITMIME" || body === "BINARYMIME") params.body = body;
        else problem = bad("BODY=7BIT|8BITMIME|BINARYMIME");
        break;
      }
      case "SMTPUTF8": // RFC 6531 3.4
        if (!options.smtputf8Allowed) {
          problem = fail(555, "5.5.4", "Unsupported parameter SMTPUTF8", "MAIL", keyword);
        } else problem = noValue(() => (params.smtputf8 = true));
        break;
      case "RET": { // RFC 3461 4.3
        const ret = value?.toUpperCase();
        if (ret === "FULL" || ret === "HDRS") params.ret = ret;
        else problem = bad("RET=FULL|HDRS");
        break;
      }
      case "ENVID": { // RFC 3461 4.4
        const envid = value !== undefined && value.length <= MAX_ENVID ? decodeXtext(value) : null;
        if (envid === null || envid === "") problem = bad("ENVID=<xtext>");
        else params.envid = envid;
        break;
      }
      case "AUTH": { // RFC 4954 5
        if (value === "<>") params.auth = null;
        else {
          const auth = value === undefined ? null : decodeXtext(value);
          if (auth === null || auth === "") problem = bad("AUTH=<xtext>|<>");
          else params.auth = auth;
        }
        break;
      }
      case "REQUIRETLS": // RFC 8689 4
        problem = noValue(() => (params.requireTls = true));
        break;
      default:
        problem = fail(555, "5.5.4", `Unsupported parameter ${keyword}`, "MAIL", keyword);
    }
    if (problem) return problem;
  }
  const path = parseArgumentPath(split, options.smtputf8Allowed && params.smtputf8 === true);
  if (path.kind === "error") return pathFailure(path, true, "MAIL");
  if (path.kind === "postmaster") return fail(501, "5.1.7", "Bad sender address syntax", "MAIL");
  return { verb: "MAIL", path, params };
}

function parseRcpt(argument: string, options: ParseOptions): SmtpCommand | SmtpSyntaxError {
  const usage = fail(501, "5.5.4", "Syntax: RCPT TO:<address>", "RCPT");
  const head = /^TO: */i.exec(argument);
  if (!head) return usage;
  const split = splitPath(argument.slice(head[0].length));
  if (!split) return usage;
  const raw = splitParams(split.rest, "RCPT");
  if (!Array.isArray(raw)) return raw;
  const params: RcptParams = {};
  for (const { keyword, value } of raw) {
    const bad = (syntax: string) => fail(501, "5.5.4", `Syntax: ${syntax}`, "RCPT", keyword);
    switch (keyword) {
      case "NOTIFY": { // RFC 3461 4.1
        const usageNotify = bad("NOTIFY=NEVER|SUCCESS,FAILURE,DELAY");
        if (value === undefined) return usageNotify;
        const conditions = value.toUpperCase().split(",");
        const allowed = new Set(["NEVER", "SUCCESS", "FAILURE", "DELAY"]);
        if (
          conditions.some((c) => !allowed.has(c)) ||
          new Set(conditions).size !== conditions.length ||
          (conditions.includes("NEVER") && conditions.length > 1)
        ) return usageNotify;
        params.notify = conditions as NotifyCondition[];
        break;
      }
      case "ORCPT": { // RFC 3461 4.2
        const usageOrcpt = bad("ORCPT=addr-type;xtext");
        if (value === undefined || value.length > MAX_ORCPT) return usageOrcpt;
        const semicolon = value.indexOf(";");
        const addressType = value.slice(0, semicolon);
        if (semicolon < 0 || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(addressType)) {
          return usageOrcpt;
        }
        const address = decodeXtext(value.slice(semicolon + 1));
        if (address === null || address === "") return usageOrcpt;
        params.orcpt = { addressType: addressType.toLowerCase(), address };
        break;
      }
      default:
        return fail(555, "5.5.4", `Unsupported parameter ${keyword}`, "RCPT", keyword);
    }
  }
  const path = parseArgumentPath(split, options.smtputf8Allowed);
  if (path.kind === "error") return pathFailure(path, false, "RCPT");
  if (path.kind === "null") return fail(501, "5.1.3", "Bad recipient address syntax", "RCPT");
  return { verb: "RCPT", path, params };
}

function parseBdat(argument: string): SmtpCommand | SmtpSyntaxError {
  // RFC 3030 2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
  const match = /^([0-9]+)(?: +(LAST))?$/i.exec(argument);
  if (!match || match[1].length > MAX_BDAT_DIGITS) {
    return fail(501, "5.5.4", "Syntax: BDAT size [LAST]", "BDAT");
  }
  return { verb: "BDAT", size: Number(match[1]), last: match[2] !== undefined };
}

function parseAuth(argument: string): SmtpCommand | SmtpSyntaxError {
  // RFC 4954 4: AUTH mechanism [initial-response]; mechanism = 1*20 of [A-Z0-9-_]
  const match = /^([A-Za-z0-9_-]{1,20})(?: +(\S+))?$/.exec(argument);
  if (!match) return fail(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]", "AUTH");
  const mechanism = match[1].toUpperCase();
  const response = match[2];
  if (response === undefined) return { verb: "AUTH", mechanism };
  if (response === "=") return { verb: "AUTH", mechanism, initialResponse: "" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(response) || response.length % 4 !== 0) {
    return fail(501, "5.5.2", "Invalid base64 data", "AUTH");
  }
  return { verb: "AUTH", mechanism, initialResponse: response };
}

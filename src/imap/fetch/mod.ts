/**
 * FETCH data items built from a stored message (its CRLF bytes and its MimePart tree), byte
 * for byte as Dovecot 2.3 builds them; tests/interop/imap_fetch_dovecot_test.ts holds the
 * proof. Pure functions, no I/O.
 *
 * @example
 * const root = JSON.parse(row.mime) as MimePart;
 * envelope(raw, root); // bytes of ("date" "subject" (("Alice" NIL "alice" "example.com")) ...)
 * bodyStructure(raw, root, true); // BODYSTRUCTURE; false gives BODY
 * section(raw, root, { part: [1], text: "MIME", fields: [] }, { offset: 0, length: 50 });
 * binary(raw, root, [2]); // { ok: true, bytes } or { ok: false, code: "UNKNOWN-CTE", text }
 */
export { envelope } from "./envelope.ts";
export { bodyStructure } from "./bodystructure.ts";
export {
  binary,
  type BinaryResult,
  binarySize,
  findPart,
  type PartialRange,
  section,
  type SectionSpec,
} from "./sections.ts";
export { byteString, fromByteString, humanString, nstring, nstringNoLf } from "./imap_string.ts";

/**
 * The byte buffer behind `Connection`'s line and literal reader. Pure (no I/O), so it can be
 * fuzzed on its own: `push` what the socket delivered, then `takeLine` / `takeBytes`.
 *
 * Implementation notes:
 * - A line ends at LF; a CR right before the LF is dropped too (CRLF and bare LF are both
 *   accepted here; protocols that must reject bare LF, like SMTP DATA, read raw bytes).
 * - A line longer than the limit is reported once (`TOO_LONG`) as soon as it is known to be too
 *   long — without waiting for its LF, so memory stays bounded — and the rest of it, up to and
 *   including the next LF, is discarded as it arrives.
 * - The scan for LF resumes where the previous one stopped, so a line delivered one byte at a
 *   time costs O(n), not O(n²).
 * - Nothing is held while nothing is buffered: the array is let go each time it is drained, so
 *   ten thousand idle connections keep no buffer each.
 *
 * @example
 * const input = new InputBuffer();
 * input.push(new TextEncoder().encode("NOOP\r\nQU"));
 * input.takeLine(1000); // bytes of "NOOP"
 * input.takeLine(1000); // undefined: need more input
 */

/** Returned by `takeLine` when the line exceeds the limit. */
export const TOO_LONG: unique symbol = Symbol("line too long");

const EMPTY = new Uint8Array(0);
const INITIAL_SIZE = 4096;

export class InputBuffer {
  #data = EMPTY;
  #start = 0;
  #end = 0;
  /** Offset (from #start) up to which no LF was found. */
  #scanned = 0;
  /** True while the remainder of a too-long line is being thrown away. */
  #discarding = false;

  /** Bytes held and not yet taken. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** True while the tail of an over-long line is still being discarded. */
  get discarding(): boolean {
    return this.#discarding;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#data.length) this.#makeRoom(chunk.length);
    this.#data.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Drops everything held, including a pending discard (used on STARTTLS). */
  clear(): void {
    this.#start = 0;
    this.#end = 0;
    this.#scanned = 0;
    this.#discarding = false;
    this.#data = EMPTY;
  }

  /**
   * The next line without its CRLF/LF; `undefined` when no complete line is held yet;
   * `TOO_LONG` when the line's content exceeds `maxLength` bytes (reported once per line).
   */
  takeLine(maxLength: number): Uint8Array | undefined | typeof TOO_LONG {
    if (this.#discarding) {
      const lf = this.#findLf();
      if (lf < 0) {
        this.#drained();
        return undefined;
      }
      this.#consume(lf + 1);
      this.#discarding = false;
    }
    const lf = this.#findLf();
    if (lf < 0) {
      // Without an LF the line is already too long once it holds more than maxLength bytes,
      // plus one for a CR that may turn out to be the CR of its CRLF.
      const held = this.length;
      const lastIsCr = held > 0 && this.#data[this.#end - 1] === 0x0d;
      if (held > maxLength + (lastIsCr ? 1 : 0)) {
        this.#discarding = true;
        this.#drained();
        return TOO_LONG;
      }
      return undefined;
    }
    let contentEnd = this.#start + lf;
    if (lf > 0 && this.#data[contentEnd - 1] === 0x0d) contentEnd--;
    const contentLength = contentEnd - this.#start;
    if (contentLength > maxLength) {
      this.#consume(lf + 1);
      return TOO_LONG;
    }
    const line = this.#data.slice(this.#start, contentEnd);
    this.#consume(lf + 1);
    return line;
  }

  /** Exactly `n` bytes, or `undefined` when fewer are held. */
  takeBytes(n: number): Uint8Array | undefined {
    if (this.length < n) return undefined;
    const bytes = this.#data.slice(this.#start, this.#start + n);
    this.#consume(n);
    return bytes;
  }

  /** Up to `max` of the bytes held (at least one), or `undefined` when none are held. */
  takeAvailable(max: number): Uint8Array | undefined {
    if (this.length === 0 || max <= 0) return undefined;
    return this.takeBytes(Math.min(max, this.length))!;
  }

  /** Puts bytes back in front of what is held (a reader that took more than it used). */
  unshift(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (bytes.length <= this.#start) {
      this.#start -= bytes.length;
      this.#data.set(bytes, this.#start);
    } else {
      const held = this.#data.slice(this.#start, this.#end);
      this.#start = this.#end = 0;
      this.push(bytes);
      this.push(held);
    }
    this.#scanned = 0;
  }

  #findLf(): number {
    const idx = this.#data.subarray(this.#start + this.#scanned, this.#end).indexOf(0x0a);
    if (idx < 0) {
      this.#scanned = this.length;
      return -1;
    }
    return this.#scanned + idx;
  }

  #consume(n: number): void {
    this.#start += n;
    this.#scanned = 0;
    if (this.#start === this.#end) this.#drained();
  }

  /** Nothing held: start over, and let the array go. */
  #drained(): void {
    this.#start = this.#end = 0;
    this.#scanned = 0;
    this.#data = EMPTY;
  }

  #makeRoom(extra: number): void {
    const held = this.length;
    const needed = held + extra;
    if (needed <= this.#data.length && this.#start > 0) {
      this.#data.copyWithin(0, this.#start, this.#end);
    } else {
      let size = Math.max(this.#data.length, INITIAL_SIZE);
      while (size < needed) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#data.subarray(this.#start, this.#end));
      this.#data = next;
    }
    this.#start = 0;
    this.#end = held;
  }
}

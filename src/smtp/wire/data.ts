/**
 * Message data readers for DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030), pure and I/O-free:
 * the session feeds raw chunks as they arrive and gets told where the data ended.
 *
 * Implementation notes (SMTP smuggling defence, DESIGN.md "Security stance"):
 * - End of data is CR LF "." CR LF and nothing else. The start of the data counts as just after
 *   a CR LF, so ".\r\n" at once is an empty message. `\n.\n`, `\n.\r\n`, `\r\n.\n`, `\r.\r`,
 *   `\r\n.\r` and friends are ordinary content.
 * - A line starts only after a real CR LF; a bare CR or LF never starts one, neither for the
 *   terminator nor for dot-unstuffing, in either mode.
 * - Any bare CR or LF sets `bareLineEnd`. With "reject" they are stored as received (the
 *   session answers 554 5.6.0 after the terminator); with "normalize" each becomes CR LF.
 * - Dot-unstuffing (4.5.2): a "." that starts a line is removed, unless the line is exactly
 *   "." (the terminator).
 * - Past `maxSize` the reader keeps looking for the end but stores nothing more; `size` keeps
 *   counting and the result's message is empty (552 5.3.4).
 * - Chunk boundaries may fall anywhere; the result never depends on them.
 */

export type BareLineEnds = "reject" | "normalize";

export interface DataReaderOptions {
  /** Largest message stored, in octets after unstuffing (and normalising). */
  maxSize: number;
  bareLineEnds: BareLineEnds;
}

export type PushResult = { done: false } | { done: true; consumed: number };

export interface DataResult {
  /** The message (empty when `tooLarge`). */
  message: Uint8Array;
  /** Octets the message has (or would have had) after unstuffing and normalising. */
  size: number;
  tooLarge: boolean;
  bareLineEnd: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = new Uint8Array([CR, LF]);
const LONE_CR = new Uint8Array([CR]);
const LONE_LF = new Uint8Array([LF]);

const enum State {
  /** Just after CR LF (or at the start): a line begins. */
  LineStart,
  /** Inside a line. */
  Middle,
  /** A CR was seen and not yet stored; its meaning depends on the next byte. */
  Cr,
  /** A line began with "."; not yet stored. */
  Dot,
  /** A line began with "." CR; LF next ends the data. */
  DotCr,
  Done,
}

/** Collects stored bytes up to a limit and counts the rest. */
class Sink {
  readonly #parts: Uint8Array[] = [];
  readonly #maxSize: number;
  size = 0;
  tooLarge = false;

  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.size += bytes.length;
    if (this.tooLarge) return;
    if (this.size > this.#maxSize) {
      this.tooLarge = true;
      this.#parts.length = 0;
      return;
    }
    this.#parts.push(bytes.slice());
  }

  bytes(): Uint8Array {
    if (this.tooLarge) return new Uint8Array(0);
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.length;
    }
    this.#parts.length = 0;
    if (out.length > 0) this.#parts.push(out);
    return out;
  }
}

/**
 * Reads the data after a DATA command's 354 up to and including CR LF "." CR LF.
 *
 * @example
 * const reader = new DataReader({ maxSize: 1 << 20, bareLineEnds: "reject" });
 * reader.push(new TextEncoder().encode("Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n"));
 * // { done: true, consumed: 25 }; result().message is "Subject: hi\r\n\r\n.dot\r\n"
 */
export class DataReader {
  readonly #sink: Sink;
  readonly #normalize: boolean;
  #state = State.LineStart;
  #bareLineEnd = false;

  constructor(options: DataReaderOptions) {
    this.#sink = new Sink(options.maxSize);
    this.#normalize = options.bareLineEnds === "normalize";
  }

  /** True once the terminator has been read. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Feeds the next bytes. When the terminator ends inside this chunk, `consumed` says how many
   * of its bytes belong to the data; the rest are pipelined commands. After that, nothing more
   * is taken (`consumed: 0`).
   */
  push(chunk: Uint8Array): PushResult {
    if (this.#state === State.Done) return { done: true, consumed: 0 };
    const sink = this.#sink;
    let i = 0;
    while (i < chunk.length) {
      const byte = chunk[i];
      switch (this.#state) {
        case State.LineStart:
          if (byte === DOT) {
            this.#state = State.Dot;
            i++;
            continue;
          }
          this.#state = State.Middle;
          continue; // handle the byte as inside a line
        case State.Middle: {
          let end = i;
          while (end < chunk.length && chunk[end] !== CR && chunk[end] !== LF) end++;
          if (end > i) sink.add(chunk.subarray(i, end));
          i = end;
          if (i === chunk.length) break;
          if (chunk[i] === CR) this.#state = State.Cr;
          else this.#bareLf();
          i++;
          continue;
        }
        case State.Cr:
          if (byte === LF) {
            sink.add(CRLF);
            this.#state = State.LineStart;
            i++;
          } else {
            this.#bareCr();
            if (byte === CR) i++; // stays in Cr for the new CR
            else this.#state = State.Middle;
          }
          continue;
        case State.Dot:
          // The dot is removed: either the line has more on it, or it is the terminator.
          if (byte === CR) {
            this.#state = State.DotCr;
            i++;
          } else {
            this.#state = State.Middle;
          }
          continue;
        case State.DotCr:
          if (byte === LF) {
            this.#state = State.Done;
            return { done: true, consumed: i + 1 };
          }
          this.#bareCr();
          if (byte === CR) {
            this.#state = State.Cr;
            i++;
          } else {
            this.#state = State.Middle;
          }
          continue;
      }
    }
    return { done: false };
  }

  /** What was read so far; final once `push` reported done. */
  result(): DataResult {
    return {
      message: this.#sink.bytes(),
      size: this.#sink.size,
      tooLarge: this.#sink.tooLarge,
      bareLineEnd: this.#bareLineEnd,
    };
  }

  #bareCr(): void {
    this.#bareLineEnd = true;
    this.#sink.add(this.#normalize ? CRLF : LONE_CR);
  }

  #bareLf(): void {
    this.#bareLineEnd = true;
    this.#sink.add(this.#normalize ? CRLF : LONE_LF);
  }
}

export interface BdatReaderOptions {
  /** Largest message stored, in octets, over all chunks. */
  maxSize: number;
}

/**
 * Collects the chunks of a BDAT transaction (RFC 3030): exact byte counts, no unstuffing, no
 * terminator. `bareLineEnd` is reported (CR at the end of one chunk and LF at the start of the
 * next make a CR LF); the session ignores it for BODY=BINARYMIME.
 *
 * @example
 * const reader = new BdatReader({ maxSize: 1 << 20 });
 * reader.begin(5, true);
 * reader.push(new TextEncoder().encode("hi\r\n.QUIT\r\n")); // { done: true, consumed: 5 }
 * reader.complete; // true
 */
export class BdatReader {
  readonly #sink: Sink;
  #remaining = 0;
  #inChunk = false;
  #last = false;
  #complete = false;
  #pendingCr = false;
  #bareLineEnd = false;
  #chunks = 0;

  constructor(options: BdatReaderOptions) {
    this.#sink = new Sink(options.maxSize);
  }

  /** Starts the chunk of one BDAT command. Throws if a chunk is still open or LAST was seen. */
  begin(size: number, last: boolean): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid size ${size}`);
    if (this.#inChunk) throw new Error("BDAT chunk still being read");
    if (this.#complete) throw new Error("BDAT LAST already received");
    this.#remaining = size;
    this.#last = last;
    this.#inChunk = true;
    this.#chunks++;
    if (size === 0) this.#finishChunk();
  }

  /** Bytes still expected for the current chunk. */
  get remaining(): number {
    return this.#remaining;
  }

  /** True once the LAST chunk has been read completely. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Octets received over all chunks so far (what a SIZE check compares). */
  get size(): number {
    return this.#sink.size;
  }

  /** Feeds bytes of the current chunk; `consumed` counts those that belonged to it. */
  push(chunk: Uint8Array): PushResult {
    if (!this.#inChunk) return { done: true, consumed: 0 };
    const take = Math.min(this.#remaining, chunk.length);
    const part = chunk.subarray(0, take);
    this.#scanLineEnds(part);
    this.#sink.add(part);
    this.#remaining -= take;
    if (this.#remaining > 0) return { done: false };
    this.#finishChunk();
    return { done: true, consumed: take };
  }

  /** The message so far; final once `complete`. */
  result(): DataResult {
    return {
      message: this.#sink.bytes(),
      size: this.#sink.size,
      tooLarge: this.#sink.tooLarge,
      bareLineEnd: this.#bareLineEnd || (this.#complete && this.#pendingCr),
    };
  }

  #finishChunk(): void {
    this.#inChunk = false;
    if (this.#last) this.#complete = true;
  }

  #scanLineEnds(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (this.#pendingCr && byte !== LF) this.#bareLineEnd = true;
      if (byte === LF && !this.#pendingCr) this.#bareLineEnd = true;
      this.#pendingCr = byte === CR;
    }
  }
}

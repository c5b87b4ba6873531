/**
 * Fuzz tests for the line and literal reader: random input cut into random chunks must come out
 * as exactly the lines and literals that went in, over-long lines must be reported once each
 * and skipped, and nothing else may be thrown. Once on the pure buffer (many cases), once through
 * a real Connection over a loopback socket (fewer cases, real packet boundaries).
 */
import net from "node:net";
import { assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { startServer } from "../helpers/tls.ts";
import { InputBuffer, TOO_LONG } from "../../src/server/input_buffer.ts";
import { type Connection, LineTooLongError } from "../../src/server/mod.ts";

type Item = string; // "line:<hex>", "literal:<hex>" or "too-long"

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

interface Case {
  input: Uint8Array;
  expected: Item[];
}

/**
 * Random input: lines (CRLF or bare LF, sometimes longer than the limit, bytes 0-255 except LF)
 * and literals announced by a line "L<n>" (n bytes of anything, LF included).
 */
function randomCase(random: () => number, maxLength: number): Case {
  const parts: Uint8Array[] = [];
  const expected: Item[] = [];
  const count = 1 + Math.floor(random() * 20);
  const randomBytes = (n: number, allowLf: boolean) => {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let b = Math.floor(random() * 256);
      if (!allowLf && b === 0x0a) b = 0x41;
      // Bias towards CR so CR handling is exercised.
      if (random() < 0.05) b = 0x0d;
      bytes[i] = b;
    }
    if (!allowLf && n > 0 && bytes[0] === 0x4c) bytes[0] = 0x6c; // never look like "L<n>"
    return bytes;
  };
  for (let i = 0; i < count; i++) {
    const kind = random();
    const literalLength = Math.floor(random() * 3 * maxLength);
    const announcement = new TextEncoder().encode(`L${literalLength}`);
    if (kind < 0.2 && announcement.length <= maxLength) {
      const literal = randomBytes(literalLength, true);
      parts.push(announcement, new Uint8Array([0x0d, 0x0a]), literal);
      expected.push(`line:${hex(announcement)}`, `literal:${hex(literal)}`);
      continue;
    }
    const long = kind > 0.85;
    const n = long
      ? maxLength + 1 + Math.floor(random() * 3 * maxLength)
      : Math.floor(random() * (maxLength + 1));
    const content = randomBytes(n, false);
    // A content ending in CR before a CRLF keeps that CR; before a bare LF it would be eaten.
    const crlf = random() < 0.7;
    const effective = !crlf && n > 0 && content[n - 1] === 0x0d
      ? content.subarray(0, n - 1)
      : content;
    parts.push(content, crlf ? new Uint8Array([0x0d, 0x0a]) : new Uint8Array([0x0a]));
    expected.push(effective.length > maxLength ? "too-long" : `line:${hex(effective)}`);
  }
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const input = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    input.set(p, offset);
    offset += p.length;
  }
  return { input, expected };
}

function randomChunks(random: () => number, input: Uint8Array): Uint8Array[] {
  const chunks = [];
  for (let i = 0; i < input.length;) {
    const size = random() < 0.3 ? 1 : 1 + Math.floor(random() * 200);
    chunks.push(input.subarray(i, i + size));
    i += size;
  }
  return chunks;
}

/** The consumer every protocol is: read a line; "L<n>" announces an n-byte literal. */
class Consumer {
  readonly items: Item[] = [];
  #literal: number | undefined;

  constructor(readonly buffer: InputBuffer, readonly maxLength: number) {}

  drain(): void {
    for (;;) {
      if (this.#literal !== undefined) {
        const bytes = this.buffer.takeBytes(this.#literal);
        if (bytes === undefined) return;
        this.items.push(`literal:${hex(bytes)}`);
        this.#literal = undefined;
        continue;
      }
      const line = this.buffer.takeLine(this.maxLength);
      if (line === undefined) return;
      if (line === TOO_LONG) {
        this.items.push("too-long");
        continue;
      }
      this.items.push(`line:${hex(line)}`);
      this.#literal = literalSize(line);
    }
  }
}

function literalSize(line: Uint8Array): number | undefined {
  const match = /^L(\d+)$/.exec(new TextDecoder("latin1").decode(line));
  return match ? Number(match[1]) : undefined;
}

Deno.test("InputBuffer: 2,000 random inputs in random chunks reassemble exactly", () => {
  const random = mulberry32(20260101);
  for (let round = 0; round < 2000; round++) {
    const maxLength = 1 + Math.floor(random() * 64);
    const { input, expected } = randomCase(random, maxLength);
    const buffer = new InputBuffer();
    const consumer = new Consumer(buffer, maxLength);
    for (const chunk of randomChunks(random, input)) {
      buffer.push(chunk);
      consumer.drain();
    }
    assertEquals(consumer.items, expected, `round ${round}, maxLength ${maxLength}`);
    assertEquals(buffer.length, 0, `round ${round}: input left over`);
  }
});

Deno.test("InputBuffer: memory stays bounded while an endless line is discarded", () => {
  const buffer = new InputBuffer();
  const chunk = new Uint8Array(4096).fill(0x61);
  let reports = 0;
  for (let i = 0; i < 1000; i++) {
    buffer.push(chunk);
    if (buffer.takeLine(1000) === TOO_LONG) reports++;
    assertEquals(buffer.length <= 4096 + 1001, true, `held ${buffer.length} bytes`);
  }
  assertEquals(reports, 1, "an over-long line is reported once");
  buffer.push(new TextEncoder().encode("tail\r\nnext\r\n"));
  assertEquals(new TextDecoder().decode(buffer.takeLine(1000) as Uint8Array), "next");
});

Deno.test("Connection over a real socket: random chunkings reassemble, nothing else is thrown", async () => {
  const maxLength = 50;
  const results: Item[][] = [];
  const finished: (() => void)[] = [];
  const server = await startServer([{
    service: "fuzz",
    implicitTls: false,
    handler: async (conn: Connection) => {
      const items: Item[] = [];
      try {
        for (;;) {
          let line: Uint8Array | null;
          try {
            line = await conn.readLineBytes();
          } catch (err) {
            if (!(err instanceof LineTooLongError)) throw err;
            items.push("too-long");
            continue;
          }
          if (line === null) break;
          items.push(`line:${hex(line)}`);
          const size = literalSize(line);
          if (size !== undefined) {
            const bytes = await conn.readBytes(size);
            if (bytes === null) break;
            items.push(`literal:${hex(bytes)}`);
          }
        }
      } catch (err) {
        items.push(`unexpected: ${err}`);
      }
      results.push(items);
      finished.shift()?.();
    },
  }], { maxLineLength: maxLength });
  const random = mulberry32(77);
  try {
    for (let round = 0; round < 25; round++) {
      const { input, expected } = randomCase(random, maxLength);
      const done = new Promise<void>((resolve) => finished.push(resolve));
      const socket = net.connect({ port: server.port("fuzz"), host: "127.0.0.1" });
      await new Promise((resolve) => socket.once("connect", resolve));
      for (const chunk of randomChunks(random, input)) {
        await new Promise((resolve) => socket.write(chunk, resolve));
        if (random() < 0.2) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      socket.end();
      await done;
      await new Promise((resolve) => {
        if (socket.closed) resolve(undefined);
        else socket.once("close", resolve);
      });
      assertEquals(results.shift(), expected, `round ${round}`);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("takeAvailable and unshift: bytes given back are read first, in order", () => {
  const random = mulberry32(7);
  for (let round = 0; round < 500; round++) {
    const buffer = new InputBuffer();
    const input = Uint8Array.from(
      { length: 1 + Math.floor(random() * 300) },
      () => Math.floor(random() * 256),
    );
    buffer.push(input);
    const out: number[] = [];
    while (buffer.length > 0) {
      const taken = buffer.takeAvailable(1 + Math.floor(random() * 50))!;
      const keep = Math.floor(random() * (taken.length + 1));
      out.push(...taken.subarray(0, keep));
      buffer.unshift(taken.subarray(keep));
      if (keep === 0) out.push(...buffer.takeAvailable(1)!);
    }
    assertEquals(new Uint8Array(out), input);
    assertEquals(buffer.takeAvailable(10), undefined);
  }
});

/**
 * Fuzz test for SRV answer parsing (seeded, reproducible): SRV responses encoded with dns-packet,
 * then bytes mutated, decoded as the resolver decodes them; every SRV answer that survives
 * decoding gives either null or a record within RFC 2782's ranges, and never throws. Odd data
 * shapes (what a broken decoder could hand over) give null.
 */
import { Buffer } from "node:buffer";
import dnsPacketModule from "dns-packet";
import { assert, assertEquals } from "../helpers/assert.ts";
import { mulberry32 } from "../helpers/random.ts";
import { srvRecordFrom } from "../../src/dns/resolver.ts";

interface Codec {
  encode(packet: unknown): Buffer;
  decode(buf: Buffer): { answers?: { type: string; data: unknown }[] };
}
const dnsPacket = dnsPacketModule as unknown as Codec;

const SEEDS = [1, 2, 3, 4];

function response(targets: string[]): Buffer {
  return dnsPacket.encode({
    id: 7,
    type: "response",
    flags: 0x8180,
    questions: [{ name: "_imaps._tcp.example.com", type: "SRV", class: "IN" }],
    answers: targets.map((target, i) => ({
      name: "_imaps._tcp.example.com",
      type: "SRV",
      class: "IN",
      ttl: 300,
      data: { priority: i, weight: 1, port: 993 + i, target },
    })),
  });
}

function checkRecord(data: unknown): void {
  const record = srvRecordFrom(data);
  if (record === null) return;
  for (const n of [record.priority, record.weight, record.port]) {
    assert(Number.isInteger(n) && n >= 0 && n <= 0xffff, `16-bit field ${n}`);
  }
  assert(record.target === "." || !record.target.endsWith("."), record.target);
  assertEquals(record.target, record.target.toLowerCase());
}

Deno.test("srvRecordFrom: well-formed answers as decoded from the wire", () => {
  const packet = dnsPacket.decode(response(["Mail.Example.com.", "."]));
  const records = (packet.answers ?? []).map((a) => srvRecordFrom(a.data));
  assertEquals(records, [
    { priority: 0, weight: 1, port: 993, target: "mail.example.com" },
    { priority: 1, weight: 1, port: 994, target: "." },
  ]);
});

Deno.test("srvRecordFrom: odd data shapes give null", () => {
  for (
    const data of [
      null,
      undefined,
      "mail.example.com",
      42,
      [],
      {},
      { priority: 0, weight: 0, port: 25 },
      { priority: -1, weight: 0, port: 25, target: "a" },
      { priority: 0, weight: 65536, port: 25, target: "a" },
      { priority: 0, weight: 0, port: 1.5, target: "a" },
      { priority: "0", weight: 0, port: 25, target: "a" },
      { priority: 0, weight: 0, port: 25, target: 7 },
    ]
  ) assertEquals(srvRecordFrom(data), null, JSON.stringify(data) ?? String(data));
});

Deno.test("srvRecordFrom fuzz: mutated SRV responses never throw past decoding", () => {
  for (const seed of SEEDS) {
    const random = mulberry32(seed);
    const base = response(["mail.example.com", "imap.example.net.", "."]);
    for (let round = 0; round < 2000; round++) {
      const bytes = Buffer.from(base);
      const mutations = 1 + Math.floor(random() * 6);
      for (let m = 0; m < mutations; m++) {
        bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      }
      const cut = random() < 0.2 ? Math.floor(random() * bytes.length) : bytes.length;
      let answers: { type: string; data: unknown }[];
      try {
        answers = dnsPacket.decode(bytes.subarray(0, cut)).answers ?? [];
      } catch {
        continue; // the resolver drops what cannot be decoded, as if nothing arrived
      }
      for (const answer of answers) if (answer.type === "SRV") checkRecord(answer.data);
    }
  }
});

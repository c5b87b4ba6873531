/**
 * TOTP (src/directory/totp.ts): the RFC 6238 Appendix B SHA-1 vectors, RFC 4648 base32, the ±1
 * step window, replay refusal, the otpauth URI; and the store's atomic step acceptance.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { withApp } from "../helpers/app.ts";
import {
  base32Decode,
  base32Encode,
  matchTotp,
  newTotpSecret,
  totpCode,
  totpStep,
  totpUri,
} from "../../src/directory/totp.ts";

/** RFC 6238 Appendix B: the SHA-1 seed and its 8-digit codes at each time (seconds). */
const RFC_SECRET = new TextEncoder().encode("12345678901234567890");
const RFC_VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

Deno.test("totp: RFC 6238 Appendix B SHA-1 vectors, 8 digits and truncated to 6", async () => {
  for (const [seconds, expected] of RFC_VECTORS) {
    const step = totpStep(seconds * 1000);
    assertEquals(await totpCode(RFC_SECRET, step, 8), expected, `T = ${seconds}`);
    assertEquals(await totpCode(RFC_SECRET, step), expected.slice(2), `T = ${seconds}`);
  }
});

Deno.test("totp: RFC 4648 base32 vectors without padding, and round trips", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "MY"],
    ["fo", "MZXQ"],
    ["foo", "MZXW6"],
    ["foob", "MZXW6YQ"],
    ["fooba", "MZXW6YTB"],
    ["foobar", "MZXW6YTBOI"],
  ];
  for (const [plain, encoded] of vectors) {
    const bytes = new TextEncoder().encode(plain);
    assertEquals(base32Encode(bytes), encoded);
    assertEquals(base32Decode(encoded), bytes);
    assertEquals(base32Decode(encoded.toLowerCase()), bytes);
  }
  assertEquals(base32Decode("MZXW 6YTB-OI======"), new TextEncoder().encode("foobar"));
  assertEquals(base32Encode(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  for (let length = 0; length < 42; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    assertEquals(base32Decode(base32Encode(bytes)), bytes);
  }
  const secret = newTotpSecret();
  assertEquals(secret.length, 20);
  assertEquals(base32Encode(secret).length, 32);
  assertThrows(() => base32Decode("MZXW1"), RangeError);
  assertThrows(() => base32Decode("M"), RangeError);
});

Deno.test("totp: a code is good one step either side of now, once, and never again", async () => {
  const now = 1111111111_000;
  const step = totpStep(now);
  const code = (offset: number) => totpCode(RFC_SECRET, step + offset);
  assertEquals(await matchTotp(RFC_SECRET, await code(0), now, 0), step);
  assertEquals(await matchTotp(RFC_SECRET, await code(-1), now, 0), step - 1);
  assertEquals(await matchTotp(RFC_SECRET, await code(1), now, 0), step + 1);
  assertEquals(await matchTotp(RFC_SECRET, await code(-2), now, 0), null);
  assertEquals(await matchTotp(RFC_SECRET, await code(2), now, 0), null);
  // Replays: a step at or before the last accepted one is refused.
  assertEquals(await matchTotp(RFC_SECRET, await code(0), now, step), null);
  assertEquals(await matchTotp(RFC_SECRET, await code(-1), now, step - 1), null);
  assertEquals(await matchTotp(RFC_SECRET, await code(1), now, step), step + 1);
  // Spaces are ignored; anything but six digits is refused.
  const typed = await code(0);
  assertEquals(await matchTotp(RFC_SECRET, `${typed.slice(0, 3)} ${typed.slice(3)}`, now, 0), step);
  assertEquals(await matchTotp(RFC_SECRET, typed.slice(1), now, 0), null);
  assertEquals(await matchTotp(RFC_SECRET, "abcdef", now, 0), null);
  assertEquals(await matchTotp(newTotpSecret(), "", now, 0), null);
});

Deno.test("totp: the otpauth URI names the issuer, the address and the parameters", () => {
  assertEquals(
    totpUri("alice@example.com", "JBSWY3DPEHPK3PXP"),
    "otpauth://totp/Postern:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Postern" +
      "&algorithm=SHA1&digits=6&period=30",
  );
  assert(totpUri("a b?c@example.com", "AA").startsWith("otpauth://totp/Postern:a%20b%3Fc@"));
});

Deno.test("totp store: set, read, accept only later steps, delete; gone with the account", async () => {
  await withApp(async (app) => {
    await app.directory.addDomain("example.com");
    const account = await app.directory.addAccount("alice@example.com", { password: "pw" });
    assertEquals(await app.store.getTotpSecret(account.id), null);
    const secret = newTotpSecret();
    await app.store.setTotpSecret(account.id, secret, 100);
    const stored = await app.store.getTotpSecret(account.id);
    assertEquals(stored?.secret, secret);
    assertEquals(stored?.lastStep, 100);
    assertEquals(await app.store.listTotpAccountIds(), [account.id]);
    assertEquals(await app.store.acceptTotpStep(account.id, 100), false);
    assertEquals(await app.store.acceptTotpStep(account.id, 101), true);
    assertEquals(await app.store.acceptTotpStep(account.id, 101), false);
    assertEquals(await app.store.acceptTotpStep(account.id, 99), false);
    assertEquals((await app.store.getTotpSecret(account.id))?.lastStep, 101);
    assertEquals(await app.store.deleteTotpSecret(account.id), true);
    assertEquals(await app.store.deleteTotpSecret(account.id), false);
    assertEquals(await app.store.acceptTotpStep(account.id, 200), false);

    await app.store.setTotpSecret(account.id, secret, 0);
    await app.directory.deleteAccount(account.address);
    assertEquals(await app.store.listTotpAccountIds(), []);
  });
});

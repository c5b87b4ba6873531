/**
 * Durability: 200 concurrent `postern deliver` processes while the server is killed with SIGKILL
 * in the middle. Every delivery that reported success must be present and intact after restart,
 * and the database must pass PRAGMA integrity_check.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startServer } from "../helpers/server.ts";
import { DatabaseSync } from "node:sqlite";
import { webCryptoSha256 } from "../helpers/hash.ts";
import { blobPath } from "../helpers/mail.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const COUNT = 200;

function messageFor(i: number): Uint8Array {
  const body = Array.from({ length: 60 }, (_, line) => `line ${line} of message ${i} `.repeat(3))
    .join("\r\n");
  return new TextEncoder().encode(
    `From: load@example.org\r\nTo: admin@example.com\r\nSubject: durable ${i}\r\n` +
      `Message-ID: <durable-${i}@example.org>\r\n\r\n${body}\r\n`,
  );
}

Deno.test("no acknowledged delivery is lost when the server is killed mid-load", async () => {
  const server = await startServer();
  let successes = 0;
  let killed = false;
  const failures: string[] = [];
  const results = await Promise.all(Array.from({ length: COUNT }, async (_, i) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "deliver", "admin@example.com", "--config", server.configPath],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(messageFor(i));
    await writer.close();
    const output = await child.output();
    const ok = output.code === 0 &&
      new TextDecoder().decode(output.stdout).includes("delivered to admin@example.com");
    if (ok && ++successes === 40 && !killed) {
      killed = true;
      await server.kill();
    }
    if (!ok) failures.push(new TextDecoder().decode(output.stderr).trim());
    return ok;
  }));
  if (!killed) await server.kill();
  const acknowledged = results.flatMap((ok, i) => ok ? [i] : []);
  assert(acknowledged.length >= 40, `only ${acknowledged.length} deliveries succeeded`);
  const reasons = new Map<string, number>();
  for (const failure of failures) reasons.set(failure, (reasons.get(failure) ?? 0) + 1);
  console.log(`${acknowledged.length} acknowledged; failures:`, Object.fromEntries(reasons));

  // Restart on the same data: the stale control socket must not stop it.
  const again = await startServer({ dir: server.dir, configPath: server.configPath });
  assertEquals(await again.stop(), 0);

  const db = new DatabaseSync(`${server.dir}/data/postern.db`, { readOnly: true });
  try {
    assertEquals({ ...db.prepare("PRAGMA integrity_check").get() }, { integrity_check: "ok" });
    const rows = db.prepare("SELECT subject, blob_hash, size FROM emails").all() as {
      subject: string;
      blob_hash: string;
      size: number;
    }[];
    const bySubject = new Map(rows.map((row) => [row.subject, row]));
    // Nothing is stored twice, whatever happened to the in-flight deliveries.
    assertEquals(bySubject.size, rows.length);
    for (const i of acknowledged) {
      const row = bySubject.get(`durable ${i}`);
      assert(row, `acknowledged delivery ${i} is missing`);
      const path = blobPath(server.dir, row.blob_hash);
      const bytes = await Deno.readFile(path);
      assertEquals(await webCryptoSha256(bytes), row.blob_hash, `blob of ${i} is corrupt`);
      assertEquals(bytes, messageFor(i));
      assertEquals(row.size, bytes.length);
    }
    const counts = db.prepare(
      `SELECT (SELECT count(*) FROM mailbox_messages) AS memberships,
              (SELECT count(*) FROM emails) AS emails,
              (SELECT used_bytes FROM principals WHERE name = 'admin@example.com') AS used,
              (SELECT sum(size) FROM emails) AS sizes`,
    ).get() as Record<string, number>;
    assertEquals(counts.memberships, counts.emails);
    assertEquals(counts.used, counts.sizes);
  } finally {
    db.close();
    await Deno.remove(server.dir, { recursive: true });
  }
});

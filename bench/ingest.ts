/**
 * `deno task bench ingest [--messages N] [--concurrency C]`: ingest N messages of 2–50 KB
 * through the message path into a fresh data directory, with C deliveries in flight (so group
 * commit can work) and with 1 (one at a time); then start the real server and read its idle RSS.
 * Where Dovecot is installed (dovecot-lmtpd), the same messages go to Dovecot's LMTP in the same
 * run and the ratio is printed.
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config/load.ts";
import { configureLogging } from "../src/observability/log.ts";
import { openApp } from "../src/app.ts";
import { makeMessage } from "./corpus.ts";
import { makeTestConfig, startServer } from "../tests/helpers/server.ts";
import { dovecotLmtpAvailable, runDovecotLmtp } from "./dovecot.ts";
import { statusKiB } from "./procs.ts";

export async function run(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: "string", default: "10000" },
      concurrency: { type: "string", default: "32" },
    },
  });
  const count = Number(values.messages);
  const concurrency = Number(values.concurrency);
  configureLogging({ level: "warn" });

  const sizes = Array.from({ length: count }, (_, i) => 2048 + ((i * 7919) % (48 * 1024)));
  const messages = sizes.map((size, i) => makeMessage(i, size));
  const totalBytes = messages.reduce((n, m) => n + m.length, 0);
  console.log(
    `corpus: ${count} messages, 2–50 KB, ${(totalBytes / 1024 / 1024).toFixed(1)} MiB in all`,
  );

  const concurrent = await ingestAll(messages, concurrency);
  print(`postern ingest, ${concurrency} in flight`, count, totalBytes, concurrent);
  const serial = await ingestAll(messages.slice(0, Math.min(count, 2000)), 1);
  print("postern ingest, 1 at a time", Math.min(count, 2000), undefined, serial);

  if (await dovecotLmtpAvailable()) {
    const dovecot = await runDovecotLmtp(messages, Math.min(concurrency, 20));
    print(
      `dovecot lmtp, ${Math.min(concurrency, 20)} sessions`,
      count,
      totalBytes,
      dovecot.seconds,
    );
    console.log(
      `ratio postern/dovecot (messages/s): ${(dovecot.seconds / concurrent).toFixed(2)}x`,
    );
  } else {
    console.log("dovecot: not installed (apt-get install dovecot-lmtpd) — no side-by-side figure");
  }

  // Idle memory: once on first start (which also generates the certificate and the admin
  // password), then after a restart on the same data — the steady state of a running server.
  const { dir, configPath } = await makeTestConfig();
  for (const label of ["first start", "restart"]) {
    const server = await startServer({ dir, configPath });
    await new Promise((r) => setTimeout(r, 3000));
    const rss = statusKiB(server.process.pid, "VmRSS");
    await server.stop();
    console.log(
      `idle server RSS, ${label}: ${(rss / 1024).toFixed(1)} MiB (target ≤ 50 MiB; ` +
        `Stalwart publishes 80–128 MiB; a bare Deno process is ~42 MiB)`,
    );
  }
  await Deno.remove(dir, { recursive: true });
}

function print(label: string, count: number, bytes: number | undefined, seconds: number) {
  console.log(
    `${label.padEnd(36)} ${(count / seconds).toFixed(0).padStart(6)} messages/s` +
      (bytes ? `  ${(bytes / 1024 / 1024 / seconds).toFixed(1)} MiB/s` : "") +
      `  (${seconds.toFixed(2)} s)`,
  );
}

async function ingestAll(messages: Uint8Array[], concurrency: number): Promise<number> {
  const { dir, configPath } = await makeTestConfig();
  const loaded = await loadConfig(configPath, { env: {} });
  const app = await openApp(loaded);
  const domain = await app.directory.addDomain("example.com");
  void domain;
  const account = await app.directory.addAccount("alice@example.com", { password: "x" });
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < messages.length) {
      const message = messages[next++];
      await app.messages.ingest(message, { accountId: account.id });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const inbox = (await app.store.listMailboxes(account.id))[0];
  if (inbox.messages !== messages.length) {
    throw new Error(`expected ${messages.length} messages in INBOX, found ${inbox.messages}`);
  }
  await app.close();
  await Deno.remove(dir, { recursive: true });
  return seconds;
}

/**
 * Benchmarks: `deno task bench <name> [options]`. Each prints figures; none passes or fails on
 * time.
 */
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  ingest: () => import("./ingest.ts"),
  smtp: () => import("./smtp.ts"),
  pop3: () => import("./pop3.ts"),
  imap: () => import("./imap.ts"),
  jmap: () => import("./jmap.ts"),
  sieve: () => import("./sieve.ts"),
  dav: () => import("./dav.ts"),
  spam: () => import("./spam.ts"),
  https: () => import("./https.ts"),
};

const [name, ...args] = Deno.args;
if (!name || !(name in BENCHES)) {
  console.error(`usage: deno task bench <${Object.keys(BENCHES).join("|")}> [options]`);
  Deno.exit(2);
}
await (await BENCHES[name]()).run(args);

/**
 * `deno task bench jmap [--messages N] [--rounds R] [--data DIR]`: JMAP latency on one large
 * account. With --data, the seeded data directory is kept in DIR and reused by the next run.
 *
 * Seeds N messages (default 100,000; threads every fifth message, a rare word in one in a
 * thousand) into one account through the message path, starts the real server, and times over
 * HTTP, R rounds each (p50 and p99):
 *   1. Email/query (inMailbox inbox, sort receivedAt desc, limit 50, collapseThreads) chained
 *      by result reference to Email/get of the list properties a client shows (preview, from,
 *      subject, keywords, ...), on a warm server;
 *   2. the same after a keyword change before every round (the listing catches up each time);
 *   3. Mailbox/get with its counts, after a keyword change each round;
 *   4. a full-text Email/query (a common and a rare word);
 *   5. Email/changes from a state 1,000 changes back.
 * Also the server's RSS after the runs. No JMAP peer runs here (Dovecot has no JMAP and
 * Stalwart is not in Debian), so there is no ratio. Never passes or fails on time.
 */
import { parseArgs } from "node:util";
import { openApp } from "../src/app.ts";
import { loadConfig } from "../src/config/load.ts";
import { makeTestConfig, startServer } from "../tests/helpers/server.ts";
import { makeMessage } from "./corpus.ts";
import { rollupKiB } from "./procs.ts";

const USER = "bench@example.com";
const PASSWORD = "bench-password-1";
const RARE_WORD = "zanzibar";
const USING = ["urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"];

function message(i: number): Uint8Array {
  const bytes = makeMessage(i, 4096, 3);
  if (i % 1000 !== 7) return bytes;
  const text = new TextDecoder().decode(bytes).replace(
    "Content-Transfer-Encoding: 7bit\r\n\r\n",
    `Content-Transfer-Encoding: 7bit\r\n\r\nThe ${RARE_WORD} file. `,
  );
  return new TextEncoder().encode(text);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function report(label: string, times: number[]) {
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `${label.padEnd(58)} p50 ${percentile(sorted, 0.5).toFixed(1).padStart(7)} ms   ` +
      `p99 ${percentile(sorted, 0.99).toFixed(1).padStart(7)} ms   (${times.length} rounds)`,
  );
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: "string", default: "100000" },
      rounds: { type: "string", default: "200" },
      data: { type: "string", default: "" },
    },
  });
  const count = Number(values.messages);
  const rounds = Number(values.rounds);
  const keep = values.data !== "";
  if (keep) await Deno.mkdir(values.data!, { recursive: true });
  const reuse = keep &&
    await Deno.stat(`${values.data}/data/postern.db`).then(() => true, () => false);
  const { dir, configPath } = await makeTestConfig({
    extra: `[jmap]\nmax_concurrent_requests = 64`,
  }, keep ? values.data : undefined);
  try {
    let started = performance.now();
    const app = await openApp(await loadConfig(configPath, { env: {} }));
    try {
      if (reuse) throw new Reused();
      await app.directory.addDomain("example.com");
      const { id } = await app.directory.addAccount(USER, { password: PASSWORD });
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => {
        while (next < count) await app.messages.ingest(message(next++), { accountId: id });
      }));
      console.log(
        `seeded ${count} messages in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } catch (error) {
      if (!(error instanceof Reused)) throw error;
      console.log(`reusing the messages seeded in ${values.data}`);
    } finally {
      await app.close();
    }
    const server = await startServer({ dir, configPath });
    try {
      const base = `http://127.0.0.1:${server.ports.http}`;
      const auth = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
      const session = await (await fetch(`${base}/jmap/session`, {
        headers: { authorization: auth },
      })).json();
      const accountId = session.primaryAccounts["urn:ietf:params:jmap:mail"];
      const api = async (methodCalls: unknown[]) => {
        const response = await fetch(`${base}/jmap/api`, {
          method: "POST",
          headers: { authorization: auth, "content-type": "application/json" },
          body: JSON.stringify({ using: USING, methodCalls }),
        });
        const body = await response.json();
        if (response.status !== 200) throw new Error(JSON.stringify(body));
        return body.methodResponses as [string, Record<string, unknown>, string][];
      };
      const time = async (work: () => Promise<unknown>) => {
        const t = performance.now();
        await work();
        return performance.now() - t;
      };
      const mailboxes = await api([["Mailbox/get", { accountId, properties: ["role"] }, "0"]]);
      const inbox = (mailboxes[0][1].list as { id: string; role: string }[])
        .find((m) => m.role === "inbox")!.id;
      const listCalls = [
        [
          "Email/query",
          {
            accountId,
            filter: { inMailbox: inbox },
            sort: [{ property: "receivedAt", isAscending: false }],
            collapseThreads: true,
            limit: 50,
          },
          "q",
        ],
        [
          "Email/get",
          {
            accountId,
            "#ids": { resultOf: "q", name: "Email/query", path: "/ids" },
            properties: [
              "threadId",
              "mailboxIds",
              "keywords",
              "from",
              "subject",
              "receivedAt",
              "size",
              "preview",
              "hasAttachment",
            ],
          },
          "g",
        ],
      ];
      started = performance.now();
      const first = await api(listCalls);
      console.log(
        `first query (loads the listing): ${(performance.now() - started).toFixed(0)} ms, ` +
          `${(first[1][1].list as unknown[]).length} emails returned`,
      );
      const ids = first[0][1].ids as string[];

      const warm: number[] = [];
      for (let i = 0; i < rounds; i++) warm.push(await time(() => api(listCalls)));
      report("query + get, 50 newest, collapseThreads (warm)", warm);

      const changing: number[] = [];
      for (let i = 0; i < rounds; i++) {
        await api([[
          "Email/set",
          {
            accountId,
            update: { [ids[i % ids.length]]: { "keywords/$seen": i % 2 === 0 || null } },
          },
          "s",
        ]]);
        changing.push(await time(() => api(listCalls)));
      }
      report("query + get after a keyword change each round", changing);

      const counts: number[] = [];
      for (let i = 0; i < Math.min(rounds, 50); i++) {
        await api([[
          "Email/set",
          {
            accountId,
            update: { [ids[i % ids.length]]: { "keywords/$seen": i % 2 === 0 || null } },
          },
          "s",
        ]]);
        counts.push(await time(() => api([["Mailbox/get", { accountId }, "m"]])));
      }
      report("Mailbox/get (counts) after a keyword change each round", counts);
      const [[, boxes]] = await api([["Mailbox/get", { accountId, ids: [inbox] }, "m"]]);
      const box = (boxes.list as Record<string, number>[])[0];
      console.log(
        `  inbox: ${box.totalEmails} emails (${box.unreadEmails} unread) in ` +
          `${box.totalThreads} threads (${box.unreadThreads} unread)`,
      );

      for (const word of ["quarterly", RARE_WORD]) {
        const text: number[] = [];
        for (let i = 0; i < Math.min(rounds, 50); i++) {
          text.push(
            await time(() =>
              api([[
                "Email/query",
                {
                  accountId,
                  filter: { text: word },
                  sort: [{ property: "receivedAt", isAscending: false }],
                  limit: 50,
                },
                "t",
              ]])
            ),
          );
        }
        report(`full-text Email/query "${word}"`, text);
      }

      const state = (await api([["Email/get", { accountId, ids: [] }, "0"]]))[0][1].state;
      const all = (await api([[
        "Email/query",
        { accountId, sort: [{ property: "receivedAt" }], limit: 1000 },
        "0",
      ]]))[0][1].ids as string[];
      for (let i = 0; i < 1000; i += 100) {
        const update: Record<string, unknown> = {};
        // Toggled, so a reused data directory (--data) changes them too.
        const flagged = `keywords/$flagged`;
        const previous = (await api([[
          "Email/get",
          { accountId, ids: all.slice(i, i + 1), properties: ["keywords"] },
          "0",
        ]]))[0][1].list as { keywords: Record<string, boolean> }[];
        const value = previous[0]?.keywords.$flagged ? null : true;
        for (const id of all.slice(i, i + 100)) update[id] = { [flagged]: value };
        await api([["Email/set", { accountId, update }, "0"]]);
      }
      const changes: number[] = [];
      let changed = 0;
      for (let i = 0; i < Math.min(rounds, 100); i++) {
        changes.push(
          await time(async () => {
            const [[, result]] = await api([[
              "Email/changes",
              { accountId, sinceState: state },
              "c",
            ]]);
            changed = (result.updated as string[]).length;
          }),
        );
      }
      report(`Email/changes after 1,000 changes (${changed} ids)`, changes);
      const pid = server.process.pid;
      console.log(
        `server RSS ${(rollupKiB(pid, "Rss") / 1024).toFixed(0)} MiB, ` +
          `PSS ${(rollupKiB(pid, "Pss") / 1024).toFixed(0)} MiB`,
      );
    } finally {
      await server.stop();
    }
  } finally {
    if (!keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Thrown past the seeding when --data already holds it. */
class Reused extends Error {}

/**
 * `postern spam …`: train the filter from folders of messages, show what the models learnt, and
 * score one message as the server would.
 *
 * Implementation notes:
 * - A folder is read recursively (Maildir cur/ and new/ included, dot files skipped); each file
 *   is one message, except a file in mbox form (starting "From ") with several messages, which
 *   is split at "From " lines after an empty line. The leading "From " line is not learnt.
 * - Training writes to the same database a running server uses (SQLite waits for its lock).
 * - Ham and spam files are learnt interleaved by proportion, not folder after folder: the
 *   global model's logistic regression (src/spam/logistic.ts) learns online, and a long run of
 *   one class tilts it.
 */
import { join } from "node:path";
import type { App } from "../app.ts";
import { createSpam } from "../spam/setup.ts";
import { GLOBAL_MODEL, GRAM_MODEL, type Judgement } from "../store/spam_types.ts";
import { spamHeaders } from "../spam/engine.ts";

/** Files under `dir`, sorted, recursively; dot files and folders skipped. */
export async function messageFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await messageFiles(path));
    else if (entry.isFile) files.push(path);
  }
  return files.sort();
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("latin1");

/** The messages of one file: one, or several for an mbox. Line ends become CR LF. */
export function messagesOf(bytes: Uint8Array): Uint8Array[] {
  const text = decoder.decode(bytes);
  const pieces = text.startsWith("From ") ? text.split(/\r?\n\r?\n(?=From )/) : [text];
  return pieces
    .map((piece) => piece.startsWith("From ") ? piece.slice(piece.indexOf("\n") + 1) : piece)
    .filter((piece) => piece.trim().length > 0)
    .map((piece) => latin1Bytes(piece.replace(/\r?\n/g, "\r\n")));
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * Ham and spam files alternated by proportion (whichever class is further behind its share goes
 * next), so online learning sees the classes mixed however the folders are ordered.
 */
export function interleaved(files: Record<Judgement, string[]>): [Judgement, string][] {
  const out: [Judgement, string][] = [];
  let ham = 0;
  let spam = 0;
  while (ham < files.ham.length || spam < files.spam.length) {
    const hamBehind = ham < files.ham.length &&
      (spam >= files.spam.length || ham / files.ham.length <= spam / files.spam.length);
    if (hamBehind) out.push(["ham", files.ham[ham++]]);
    else out.push(["spam", files.spam[spam++]]);
  }
  return out;
}

export interface TrainCounts {
  learnt: number;
  unchanged: number;
}

export async function trainFromFolders(
  app: App,
  folders: { ham: string[]; spam: string[] },
  account: string | null,
  progress: (text: string) => void,
): Promise<Record<Judgement, TrainCounts>> {
  let accountId: number | null = null;
  if (account) {
    const found = await app.store.getAccount(account.toLowerCase());
    if (!found) throw new Error(`no account ${account}`);
    accountId = found.id;
  }
  app.spam ??= await createSpam(app, null);
  const counts: Record<Judgement, TrainCounts> = {
    ham: { learnt: 0, unchanged: 0 },
    spam: { learnt: 0, unchanged: 0 },
  };
  const files: Record<Judgement, string[]> = { ham: [], spam: [] };
  for (const judgement of ["ham", "spam"] as const) {
    for (const folder of folders[judgement]) files[judgement].push(...await messageFiles(folder));
  }
  for (const [judgement, file] of interleaved(files)) {
    for (const message of messagesOf(await Deno.readFile(file))) {
      const changed = await app.spam.engine.train(message, judgement, accountId);
      counts[judgement][changed ? "learnt" : "unchanged"]++;
    }
  }
  for (const judgement of ["ham", "spam"] as const) {
    progress(`${counts[judgement].learnt} learnt as ${judgement}`);
  }
  return counts;
}

export async function modelSummary(app: App, account: string | null): Promise<string> {
  const lines: string[] = [];
  const global = await app.store.spam.totals(GLOBAL_MODEL);
  lines.push(`global model: ${global.ham} ham, ${global.spam} spam learnt`);
  const grams = await app.store.spam.totals(GRAM_MODEL);
  lines.push(`4-gram model: ${grams.ham} ham, ${grams.spam} spam learnt`);
  if (account) {
    const found = await app.store.getAccount(account.toLowerCase());
    if (!found) throw new Error(`no account ${account}`);
    const own = await app.store.spam.totals(found.id);
    lines.push(`${found.address}: ${own.ham} ham, ${own.spam} spam learnt`);
  }
  return lines.join("\n");
}

/** Scores a message (no DNS lists, no LLM) and describes the result as header fields. */
export async function scoreMessage(
  app: App,
  raw: Uint8Array,
  account: string | null,
): Promise<string> {
  app.spam ??= await createSpam(app, null);
  const found = account ? await app.store.getAccount(account.toLowerCase()) : null;
  if (account && !found) throw new Error(`no account ${account}`);
  const message = messagesOf(raw)[0] ?? encoder.encode("\r\n");
  const scored = await app.spam.engine.score(message, {
    sender: "",
    recipients: [],
    remoteAddress: "",
    helo: "",
    authenticated: false,
  }, found ? [found.id] : []);
  const result = found ? scored.accounts.get(found.id)! : scored.message;
  return spamHeaders(result, app.spam.engine.settings.junkThreshold).replace(/\r\n$/, "")
    .replaceAll("\r\n", "\n") + `\nverdict: ${result.verdict}`;
}

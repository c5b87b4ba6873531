/**
 * The Sieve reference corpus (tests/fixtures/sieve/, format in its README.md): loading the cases,
 * running one through Dovecot Pigeonhole's `sieve-test` (package dovecot-sieve, installed by
 * scripts/install-sieve-peers.sh) and turning what it prints into normalized action lines that
 * do not depend on Pigeonhole's wording, so Postern's interpreter can be compared with the same
 * expected.txt files.
 *
 * Each case runs twice, as the user `nobody` (sieve-test refuses root), in a temporary home that
 * holds a copy of the case, the shared dovecot.conf and a Maildir (LAYOUT=fs) with the case's
 * mailboxes:
 * - a dry run (no `-e`): the "Performed actions" and "Implicit keep" listing, which names every
 *   action with its flags, vacation parameters, notify parameters and reject reason;
 * - an executed run (`-e -l maildir:…`): delivers into the Maildir and prints outgoing mail
 *   instead of sending it. Its log says whether a vacation reply was really sent (RFC 5230 4.5,
 *   4.6 checks happen only then) and whether execution failed; with `checkHeaders` the stored
 *   messages' header fields show editheader's effect, which the dry run does not print.
 *
 * @example
 * const corpus = await loadCorpus();
 * const actual = await runPigeonhole(corpus[0].dir);
 */

export const CORPUS_DIR = new URL("../fixtures/sieve/", import.meta.url).pathname;

export interface SieveEnvelope {
  /** Envelope sender (return path); sieve-test cannot take the null sender. */
  from: string;
  /** Final envelope recipient (the script owner). */
  to: string;
  /** Original envelope recipient; the final recipient when absent. */
  originalTo?: string;
}

export interface SieveCase {
  name: string;
  dir: string;
  description: string;
  /** Capabilities the case exercises (for coverage counts); "rfc5228" for the base language. */
  extensions: string[];
  envelope: SieveEnvelope;
  /** Mailboxes that exist before delivery, besides INBOX ("A/B" is a child of "A"). */
  mailboxes: string[];
  /** Compare the header fields of the stored messages too (editheader). */
  checkHeaders: boolean;
  script: string;
  message: Uint8Array;
  expected: string[];
}

interface CaseFile {
  description: string;
  extensions: string[];
  envelope: SieveEnvelope;
  mailboxes?: string[];
  checkHeaders?: boolean;
}

/** Every case folder of the corpus, sorted by name. */
export async function loadCorpus(dir = CORPUS_DIR): Promise<SieveCase[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) names.push(entry.name);
  }
  names.sort();
  return await Promise.all(names.map((name) => loadCase(`${dir}${name}`)));
}

export async function loadCase(dir: string): Promise<SieveCase> {
  const file = JSON.parse(await Deno.readTextFile(`${dir}/case.json`)) as CaseFile;
  let expected: string[] = [];
  try {
    expected = (await Deno.readTextFile(`${dir}/expected.txt`)).split("\n").filter((l) => l !== "");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return {
    name: dir.slice(dir.lastIndexOf("/") + 1),
    dir,
    description: file.description,
    extensions: file.extensions,
    envelope: file.envelope,
    mailboxes: file.mailboxes ?? [],
    checkHeaders: file.checkHeaders ?? false,
    script: await Deno.readTextFile(`${dir}/script.sieve`),
    message: await Deno.readFile(`${dir}/message.eml`),
    expected,
  };
}

const quote = (text: string) => JSON.stringify(text);

/** A mailbox name as Dovecot's Maildir keeps it on disk: modified UTF-7 (RFC 3501 5.1.3). */
function mutf7(name: string): string {
  return name.replace(/[^\x20-\x7e]+|&/g, (run) => {
    if (run === "&") return "&-";
    const units = [...run].flatMap((c) => {
      const code = c.codePointAt(0)!;
      if (code < 0x10000) return [code];
      const v = code - 0x10000;
      return [0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff)];
    });
    const bytes = new Uint8Array(units.flatMap((u) => [u >> 8, u & 0xff]));
    const base64 = btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replaceAll("/", ",");
    return `&${base64}-`;
  });
}

function flagList(flags: string[]): string {
  const unique = [...new Set(flags.map((flag) => flag.toLowerCase()))].sort();
  return `flags=[${unique.join(" ")}]`;
}

function storeLine(mailbox: string, flags: string[], notes: string[]): string {
  if (mailbox.toUpperCase() === "INBOX" && notes.length === 0) return `keep ${flagList(flags)}`;
  return [`fileinto ${quote(mailbox)}`, flagList(flags), ...notes].join(" ");
}

/**
 * Turns the output of a dry `sieve-test` run (stdout, then stderr) into sorted action lines;
 * the grammar is in tests/fixtures/sieve/README.md.
 *
 * @example
 * normalizePigeonhole("Performed actions:\n\n * discard\n\nImplicit keep:\n\n  (none)\n");
 * // ["discard"]
 */
export function normalizePigeonhole(output: string): string[] {
  const lines = output.split("\n");
  const actions: string[] = [];
  let index = 0;
  const detail = () => {
    const details: string[] = [];
    while (index < lines.length && /^\s+(\+|=>)/.test(lines[index])) {
      details.push(lines[index].trim());
      index++;
    }
    return details;
  };
  while (index < lines.length) {
    const line = lines[index++];
    let match: RegExpMatchArray | null;
    if ((match = line.match(/^ \* store message in folder: (.*)$/))) {
      const flags: string[] = [];
      const notes: string[] = [];
      for (const item of detail()) {
        let m: RegExpMatchArray | null;
        if ((m = item.match(/^\+ add IMAP flags: (.*)$/))) flags.push(...m[1].split(" "));
        else if (item === "+ create mailbox if it does not exist") notes.push("create");
        else if ((m = item.match(/^\+ use mailbox with special-use flag `(.*)' instead/))) {
          notes.push(`specialuse=${m[1]}`);
        }
      }
      actions.push(storeLine(match[1], flags, notes));
    } else if (line === " * discard") {
      actions.push("discard");
    } else if ((match = line.match(/^ \* redirect message to: <(.*)>$/))) {
      detail();
      actions.push(`redirect ${quote(match[1])}`);
    } else if ((match = line.match(/^ \* reject message with reason: (.*)$/))) {
      actions.push(`reject ${quote(match[1])}`);
    } else if (line === " * send vacation message:") {
      const fields = new Map<string, string>();
      for (const item of detail()) {
        const m = item.match(/^=> (\w+)\s*: ?(.*)$/);
        if (m) fields.set(m[1], m[2]);
      }
      while (index < lines.length && lines[index] !== "START MESSAGE") index++;
      const handle = lines.slice(0, index).join("\n");
      const body: string[] = [];
      for (index++; index < lines.length && lines[index] !== "END MESSAGE"; index++) {
        body.push(lines[index].replace(/\r$/, ""));
      }
      index++;
      const parts = [`vacation seconds=${fields.get("seconds")}`];
      if (fields.has("subject")) parts.push(`subject=${quote(fields.get("subject")!)}`);
      if (fields.has("from")) parts.push(`from=${quote(fields.get("from")!)}`);
      parts.push(`mime=${/<MIME>\s*$/.test(handle) ? "yes" : "no"}`);
      parts.push(`reason=${quote(body.join("\n"))}`);
      actions.push(parts.join(" "));
    } else if ((match = line.match(/^ \* send notification with method '(.*)':$/))) {
      const fields = new Map<string, string>();
      const recipients: string[] = [];
      for (const item of detail()) {
        const m = item.match(/^=> (\w+)\s*: ?(.*)$/);
        if (m) fields.set(m[1], m[2]);
        else if (item.startsWith("+ ")) recipients.push(item.slice(2));
      }
      const parts = [`notify ${quote(match[1].replace(/:$/, ""))}`];
      parts.push(`importance=${fields.get("importance")}`);
      if (fields.get("from")) parts.push(`from=${quote(fields.get("from")!)}`);
      if (fields.get("subject")) parts.push(`subject=${quote(fields.get("subject")!)}`);
      parts.push(`recipients=[${recipients.join(", ")}]`);
      actions.push(parts.join(" "));
    } else if ((match = line.match(/^ \* track duplicate(?: with handle: (.*))?$/))) {
      actions.push(
        match[1] === undefined ? "duplicate-track" : `duplicate-track ${quote(match[1])}`,
      );
    } else if (/^ \* /.test(line)) {
      actions.push(`unknown ${quote(line.slice(3))}`);
    } else if (/Fatal: failed to compile sieve script/.test(line)) {
      actions.push("invalid", "keep flags=[]");
    } else if (/final result: failed; resolved with successful implicit keep/.test(line)) {
      if (!actions.includes("error")) actions.push("error");
      if (!actions.some((action) => action.startsWith("keep "))) actions.push("keep flags=[]");
    }
  }
  return [...new Set(actions)].sort();
}

const VACATION_SKIPS: [RegExp, string][] = [
  [/to system address/, "system-address"],
  [/no known \(envelope\) recipient address found/, "recipient-not-in-headers"],
  [/auto-submitted/i, "auto-submitted"],
  [/mailing ?list/i, "mailing-list"],
  [/precedence/i, "precedence"],
  [/<>|null/i, "null-sender"],
  [/own address|to the recipient|to itself/i, "own-address"],
  [/already|duplicate/i, "already-replied"],
];

/**
 * Folds the executed run into the dry run's lines: the vacation recipient (or why no reply was
 * sent), a failure the dry run did not see, and with `headers` the stored messages' fields.
 */
export function mergeExecution(
  dryLines: string[],
  executedLog: string,
  stored: Map<string, string[]>,
): string[] {
  let actions = [...dryLines];
  if (
    /final result: failed/.test(executedLog) && !actions.includes("error") &&
    !actions.includes("invalid")
  ) {
    actions = ["error", "keep flags=[]"];
  }
  const vacationAt = actions.findIndex((action) => action.startsWith("vacation "));
  if (vacationAt >= 0) {
    const sent = executedLog.match(/vacation action: sent vacation response to <(.*?)>/);
    const skipped = executedLog.match(/vacation action: (.*)/);
    if (sent) {
      actions[vacationAt] = actions[vacationAt].replace(
        /^vacation /,
        `vacation to=${quote(sent[1])} `,
      );
    } else if (skipped) {
      const code = VACATION_SKIPS.find(([pattern]) => pattern.test(skipped[1]))?.[1];
      actions[vacationAt] = `vacation-skipped ${code ?? quote(skipped[1])}`;
    }
  }
  for (const [mailbox, fields] of stored) {
    actions.push(`headers ${quote(mailbox)} [${fields.map(quote).join(", ")}]`);
  }
  return [...new Set(actions)].sort();
}

const decoder = new TextDecoder();

async function run(args: string[]): Promise<string> {
  const { stdout, stderr } = await new Deno.Command("runuser", {
    args: ["-u", "nobody", "--", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoder.decode(stdout) + "\n" + decoder.decode(stderr);
}

async function copyTree(from: string, to: string) {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

/** The header fields of each stored message, unfolded, by mailbox ("INBOX" for the root). */
async function storedHeaders(maildir: string, mailbox = "INBOX"): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  const children: string[] = [];
  for await (const entry of Deno.readDir(maildir)) {
    if (!entry.isDirectory) continue;
    if (entry.name === "cur" || entry.name === "new") {
      for await (const mail of Deno.readDir(`${maildir}/${entry.name}`)) {
        const text = await Deno.readTextFile(`${maildir}/${entry.name}/${mail.name}`);
        const head = text.replaceAll("\r\n", "\n").split("\n\n")[0];
        result.set(mailbox, head.replace(/\n[ \t]/g, " ").split("\n"));
      }
    } else if (entry.name !== "tmp") {
      children.push(entry.name);
    }
  }
  for (const child of children.sort()) {
    const name = mailbox === "INBOX" ? child : `${mailbox}/${child}`;
    for (const [key, value] of await storedHeaders(`${maildir}/${child}`, name)) {
      result.set(key, value);
    }
  }
  return result;
}

/** Runs one case through sieve-test (dry, then executed) and returns its normalized lines. */
export async function runPigeonhole(caseDir: string): Promise<string[]> {
  const testCase = await loadCase(caseDir);
  const root = await Deno.makeTempDir({ prefix: "postern-sieve-" });
  try {
    await Deno.chmod(root, 0o755);
    const home = `${root}/home`;
    await copyTree(caseDir, home);
    await Deno.copyFile(`${CORPUS_DIR}dovecot.conf`, `${home}/dovecot.conf`);
    for (const folder of ["personal", "global"]) {
      await Deno.mkdir(`${home}/${folder}`).catch(() => {});
    }
    for (const mailbox of ["", ...testCase.mailboxes]) {
      for (const sub of ["cur", "new", "tmp"]) {
        await Deno.mkdir(`${home}/Maildir/${mutf7(mailbox)}/${sub}`, { recursive: true });
      }
    }
    const chown = await new Deno.Command("chown", { args: ["-R", "nobody", home] }).output();
    if (!chown.success) throw new Error("chown failed");
    const { from, to, originalTo } = testCase.envelope;
    // sieve-test takes no null sender: -f refuses "" and "<>" (see the README).
    if (from === "") throw new Error(`${testCase.name}: sieve-test cannot take a null sender`);
    const base = [
      "env",
      `HOME=${home}`,
      "sieve-test",
      "-C",
      "-c",
      `${home}/dovecot.conf`,
      "-f",
      from,
      "-a",
      originalTo ?? to,
      "-r",
      to,
    ];
    const files = [`${home}/script.sieve`, `${home}/message.eml`];
    const dry = normalizePigeonhole(await run([...base, ...files]));
    const executed = await run([
      ...base,
      "-e",
      "-l",
      `maildir:${home}/Maildir:LAYOUT=fs`,
      ...files,
    ]);
    const stored = testCase.checkHeaders ? await storedHeaders(`${home}/Maildir`) : new Map();
    return mergeExecution(dry, executed, stored);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

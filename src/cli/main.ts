/**
 * The command line: `postern [command] [subcommand] [options]`. Every command takes
 * `--config FILE` (default ./config.toml) and `--help`. Errors are one line on stderr and a
 * non-zero exit: 1 for a failure, 2 for a usage mistake.
 */
import { parseArgs } from "node:util";
import { loadConfig, type LoadedConfig } from "../config/load.ts";
import { configureLogging, fileSink } from "../observability/log.ts";
import { type App, openApp } from "../app.ts";
import { deliverLocal } from "../mail/deliver.ts";
import { deliverViaControl, wakeQueueViaControl } from "../http/control.ts";
import { size as sizeSchema } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import { readPassword } from "./prompt.ts";
import { normalizeDomain } from "../directory/directory.ts";
import { domainRecords } from "../directory/dns_records.ts";
import { clientDnsRecords } from "../http/client_records.ts";
import { ApiTokens } from "../directory/tokens.ts";

export class UsageError extends Error {}
export class CliError extends Error {}

type Flags = Record<string, string | boolean | string[] | undefined>;

interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;
  run(args: { positionals: string[]; flags: Flags; configFile: string }): Promise<number>;
}

const COMMON = {
  config: { type: "string" as const, short: "c" },
  help: { type: "boolean" as const, short: "h" },
};

const COMMANDS: Record<string, Command> = {
  "serve": {
    usage: "postern serve [--config FILE]",
    summary: "run the server (the default command)",
    async run({ configFile }) {
      const { runServe } = await import("./serve_command.ts");
      return await runServe(configFile);
    },
  },
  "domain add": {
    usage: "postern domain add DOMAIN",
    summary: "add a mail domain (and generate its DKIM keys)",
    run: withApp(1, async (app, [name]) => {
      const domain = await app.directory.addDomain(name);
      print(`added domain ${domain.name}`);
    }),
  },
  "domain list": {
    usage: "postern domain list",
    summary: "list mail domains",
    run: withApp(0, async (app) => {
      for (const domain of await app.store.listDomains()) print(domain.name);
    }),
  },
  "domain dns": {
    usage: "postern domain dns DOMAIN",
    summary: "print the DNS records to publish for a domain (MX, SPF, DKIM, DMARC, SRV, MTA-STS)",
    run: withApp(1, async (app, [name], _, loaded) => {
      const domain = normalizeDomain(name);
      const dkim = await app.directory.dkimKeys(domain);
      const { config } = loaded;
      const clients = clientDnsRecords(domain, config);
      print(domainRecords({ domain, hostname: config.server.hostname, dkim, clients }).join("\n"));
    }),
  },
  "domain delete": {
    usage: "postern domain delete DOMAIN",
    summary: "delete a domain that has no accounts or aliases left",
    run: withApp(1, async (app, [name]) => {
      await app.directory.deleteDomain(name);
      print(`deleted domain ${name.toLowerCase()}`);
    }),
  },
  "account add": {
    usage:
      "postern account add ADDRESS [--password PW | --hash '{SCHEME}…'] [--name NAME] [--quota SIZE]",
    summary:
      "add an account (prompts for the password when neither --password nor --hash is given)",
    options: {
      password: { type: "string" },
      hash: { type: "string" },
      name: { type: "string" },
      quota: { type: "string" },
    },
    run: withApp(1, async (app, [address], flags) => {
      if (flags.password !== undefined && flags.hash !== undefined) {
        throw new UsageError("give --password or --hash, not both");
      }
      const credential = flags.hash !== undefined ? { hash: String(flags.hash) } : {
        password: flags.password !== undefined ? String(flags.password) : await askNewPassword(),
      };
      const account = await app.directory.addAccount(address, credential, {
        displayName: flags.name as string | undefined,
        quota: flags.quota !== undefined ? parseSize(String(flags.quota)) : undefined,
      });
      print(`added account ${account.address}`);
    }),
  },
  "account list": {
    usage: "postern account list [--domain DOMAIN]",
    summary: "list accounts with quota and usage",
    options: { domain: { type: "string" } },
    run: withApp(0, async (app, _, flags) => {
      const domainId = await domainFilter(app, flags.domain);
      const rows = (await app.store.listAccounts(domainId)).map((a) => [
        a.address,
        a.displayName,
        a.quota ? formatSize(a.quota) : "unlimited",
        formatSize(a.usedBytes),
        a.disabled ? "disabled" : "",
      ]);
      printTable(["ADDRESS", "NAME", "QUOTA", "USED", ""], rows);
    }),
  },
  "account passwd": {
    usage: "postern account passwd ADDRESS [--password PW]",
    summary: "set an account's password (prompts when --password is not given)",
    options: { password: { type: "string" } },
    run: withApp(1, async (app, [address], flags) => {
      await app.directory.requireAccount(address);
      const password = flags.password !== undefined
        ? String(flags.password)
        : await askNewPassword();
      await app.directory.setPassword(address, password);
      print(`password changed for ${address.toLowerCase()}`);
    }),
  },
  "account delete": {
    usage: "postern account delete ADDRESS",
    summary: "delete an account, its mail and the aliases pointing at it",
    run: withApp(1, async (app, [address]) => {
      await app.directory.deleteAccount(address);
      const removed = await app.store.collectBlobs((hash) => app.blobs.deleteSync(hash));
      print(`deleted account ${address.toLowerCase()} (${removed} message file(s) removed)`);
    }),
  },
  "account app-password": {
    usage: "postern account app-password add ADDRESS NAME | list ADDRESS | revoke ADDRESS ID",
    summary: "create (shown only once), list or revoke an account's app passwords",
    run: withApp([2, 3], async (app, [action, address, argument]) => {
      const time = (date: Date | null) =>
        date ? date.toISOString().slice(0, 19).replace("T", " ") : "never";
      if (action === "add" && argument !== undefined) {
        const { appPassword, password } = await app.directory.addAppPassword(address, argument);
        print(
          `created app password ${appPassword.id} '${appPassword.name}' for ${address.toLowerCase()} (shown only once):\n${password}`,
        );
      } else if (action === "list" && argument === undefined) {
        printTable(
          ["ID", "NAME", "CREATED (UTC)", "LAST USED (UTC)"],
          (await app.directory.listAppPasswords(address)).map((entry) => [
            String(entry.id),
            entry.name,
            time(entry.createdAt),
            time(entry.lastUsedAt),
          ]),
        );
      } else if (action === "revoke" && argument !== undefined) {
        const id = Number(argument);
        if (!Number.isSafeInteger(id) || id <= 0) {
          throw new UsageError(`not an app password id: '${argument}'`);
        }
        await app.directory.revokeAppPassword(address, id);
        print(`revoked app password ${id} of ${address.toLowerCase()}`);
      } else {
        throw new UsageError(`unknown or incomplete app-password command '${action}'`);
      }
    }),
  },
  "account totp": {
    usage: "postern account totp disable ADDRESS",
    summary: "turn off an account's two-step sign-in (a lost phone); the password alone signs in",
    run: withApp(2, async (app, [action, address]) => {
      if (action !== "disable") throw new UsageError(`unknown totp command '${action}'`);
      await app.directory.disableTotp(address);
      print(`two-step sign-in turned off for ${address.toLowerCase()}`);
    }),
  },
  "alias add": {
    usage: "postern alias add ADDRESS TARGET   (ADDRESS @domain makes a catch-all)",
    summary: "deliver mail for ADDRESS to TARGET",
    run: withApp(2, async (app, [address, target]) => {
      const alias = await app.directory.addAlias(address, target);
      print(`added alias ${alias.address} -> ${alias.target}`);
    }),
  },
  "alias list": {
    usage: "postern alias list [--domain DOMAIN]",
    summary: "list aliases",
    options: { domain: { type: "string" } },
    run: withApp(0, async (app, _, flags) => {
      const domainId = await domainFilter(app, flags.domain);
      printTable(
        ["ALIAS", "TARGET"],
        (await app.store.listAliases(domainId)).map((a) => [a.address, a.target]),
      );
    }),
  },
  "alias delete": {
    usage: "postern alias delete ADDRESS [TARGET]",
    summary: "delete an alias (every target, or just TARGET)",
    run: withApp([1, 2], async (app, [address, target]) => {
      await app.directory.deleteAlias(address, target);
      print(`deleted alias ${address.toLowerCase()}${target ? ` -> ${target.toLowerCase()}` : ""}`);
    }),
  },
  "mailbox list": {
    usage: "postern mailbox list ACCOUNT",
    summary: "list an account's mailboxes with message counts and sizes",
    run: withApp(1, async (app, [address]) => {
      const account = await app.directory.requireAccount(address);
      printTable(
        ["MAILBOX", "ROLE", "MESSAGES", "UNSEEN", "SIZE"],
        (await app.store.listMailboxes(account.id)).map((m) => [
          m.path,
          m.role ?? "",
          String(m.messages),
          String(m.unseen),
          formatSize(m.size),
        ]),
      );
    }),
  },
  "token create": {
    usage: "postern token create ADDRESS [--label LABEL]",
    summary: "create an API token (JMAP Bearer) for an account; it is shown only once",
    options: { label: { type: "string" } },
    run: withApp(1, async (app, [address], flags) => {
      const account = await app.directory.requireAccount(address);
      const { key, token } = await new ApiTokens(app.store).create(
        account.id,
        String(flags.label ?? ""),
      );
      print(`created token ${key.id} for ${account.address} (shown only once):\n${token}`);
    }),
  },
  "token list": {
    usage: "postern token list ADDRESS",
    summary: "list an account's API tokens",
    run: withApp(1, async (app, [address]) => {
      const account = await app.directory.requireAccount(address);
      const time = (date: Date | null) =>
        date ? date.toISOString().slice(0, 19).replace("T", " ") : "never";
      printTable(
        ["ID", "LABEL", "CREATED (UTC)", "LAST USED (UTC)"],
        (await new ApiTokens(app.store).list(account.id)).map((key) => [
          String(key.id),
          key.label,
          time(key.createdAt),
          time(key.lastUsedAt),
        ]),
      );
    }),
  },
  "token revoke": {
    usage: "postern token revoke ID",
    summary: "revoke an API token at once (running servers included)",
    run: withApp(1, async (app, [id]) => {
      const number = Number(id);
      if (!Number.isSafeInteger(number) || number <= 0) {
        throw new UsageError(`not a token id: '${id}'`);
      }
      if (!(await new ApiTokens(app.store).revoke(number))) {
        throw new CliError(`no token ${id}`);
      }
      print(`revoked token ${id}`);
    }),
  },
  "deliver": {
    usage: "postern deliver RECIPIENT… < message",
    summary:
      "deliver a message from stdin to local recipients (through a running server if any); " +
      "exit 0 all delivered, 1 none, 3 some",
    async run({ positionals, configFile }) {
      if (positionals.length === 0) throw new UsageError("give at least one recipient");
      const loaded = await loadConfig(configFile);
      const raw = await readAll(Deno.stdin.readable, loaded.config.limits.max_message_size);
      let results = await deliverViaControl(loaded.paths.controlSocket, raw, positionals);
      if (results === null) {
        const app = await openApp(loaded);
        try {
          results = await deliverLocal(app.messages, app.directory, raw, positionals);
        } finally {
          await app.close();
        }
      }
      let failed = 0;
      for (const result of results) {
        if (result.status === "delivered") {
          print(`${result.recipient}: delivered to ${result.account} (uid ${result.uid})`);
        } else {
          failed++;
          printError(`${result.recipient}: not delivered: ${result.error}`);
        }
      }
      return failed === 0 ? 0 : failed === results.length ? 1 : 3;
    },
  },
  "config check": {
    usage: "postern config check [--config FILE]",
    summary: "validate the configuration file and print the settings it yields",
    async run({ configFile }) {
      const loaded = await loadConfig(configFile);
      print(`${loaded.file}: OK`);
      print(`data directory: ${loaded.paths.dataDir}`);
      for (const [service, address] of Object.entries(loaded.config.listeners)) {
        print(`  ${service.padEnd(12)} ${address || "(disabled)"}`);
      }
      return 0;
    },
  },
  "queue list": {
    usage: "postern queue list",
    summary: "list queued outbound messages and their waiting recipients",
    run: withApp(0, async (app) => {
      const rows: string[][] = [];
      for (const message of await app.store.listQueue()) {
        const waiting = message.recipients.filter((r) => r.status === "queued");
        const next = waiting.map((r) => r.nextAttemptAt.getTime()).sort((a, b) => a - b)[0];
        rows.push([
          String(message.id),
          message.arrivedAt.toISOString().slice(0, 19).replace("T", " "),
          formatSize(message.size),
          message.returnPath || "<>",
          waiting.map((r) => r.address).join(", "),
          next === undefined ? "-" : new Date(next).toISOString().slice(0, 19).replace("T", " "),
        ]);
      }
      if (rows.length === 0) return print("the queue is empty");
      printTable(["ID", "ARRIVED (UTC)", "SIZE", "FROM", "RECIPIENTS", "NEXT ATTEMPT"], rows);
    }),
  },
  "queue show": {
    usage: "postern queue show ID",
    summary: "show one queued message: envelope, each recipient's state and last reply",
    run: withApp(1, async (app, [id]) => {
      const message = await app.store.getQueued(queueId(id));
      if (!message) throw new CliError(`no queued message ${id}`);
      print(`id:          ${message.id}`);
      print(`from:        ${message.returnPath || "<>"}`);
      print(`arrived:     ${message.arrivedAt.toISOString()}`);
      print(`expires:     ${message.expiresAt.toISOString()}`);
      print(
        `size:        ${message.size} (${message.body}${message.smtputf8 ? ", SMTPUTF8" : ""})`,
      );
      print(`source:      ${message.source}`);
      if (message.envelopeId) print(`envelope id: ${message.envelopeId}`);
      if (message.requireTls) print(`requiretls:  yes`);
      for (const r of message.recipients) {
        print(
          `recipient:   ${r.address}  ${r.status}, ${r.attempts} attempt(s)` +
            (r.status === "queued" ? `, next ${r.nextAttemptAt.toISOString()}` : ""),
        );
        if (r.lastReply) {
          print(`  last:      ${r.lastReply}${r.lastHost ? ` (${r.lastHost})` : ""}`);
        }
      }
    }),
  },
  "queue retry": {
    usage: "postern queue retry [ID]",
    summary: "try queued recipients now (all messages, or one)",
    run: withApp([0, 1], async (app, [id], _, loaded) => {
      const count = await app.store.retryQueued(new Date(), id ? queueId(id) : undefined);
      if (id && count === 0 && !(await app.store.getQueued(queueId(id)))) {
        throw new CliError(`no queued message ${id}`);
      }
      const woken = await wakeQueueViaControl(loaded.paths.controlSocket);
      print(
        `${count} recipient(s) due now` +
          (woken ? "" : "; no server is running, they go out when it starts"),
      );
    }),
  },
  "queue delete": {
    usage: "postern queue delete ID",
    summary: "remove a queued message without delivering it or notifying anyone",
    run: withApp(1, async (app, [id]) => {
      if (!(await app.store.deleteQueued(queueId(id)))) {
        throw new CliError(`no queued message ${id}`);
      }
      print(`deleted queued message ${id}`);
    }),
  },
  "spam train": {
    usage: "postern spam train [--ham DIR]… [--spam DIR]… [--account ADDRESS]",
    summary: "teach the spam filter from folders of messages (files, Maildir or mbox); " +
      "the global model, and the account's own with --account",
    options: {
      ham: { type: "string", multiple: true },
      spam: { type: "string", multiple: true },
      account: { type: "string" },
    },
    run: withApp(0, async (app, _, flags) => {
      const ham = (flags.ham as string[] | undefined) ?? [];
      const spam = (flags.spam as string[] | undefined) ?? [];
      if (ham.length + spam.length === 0) throw new UsageError("give --ham DIR or --spam DIR");
      const { trainFromFolders } = await import("./spam_command.ts");
      const counts = await trainFromFolders(
        app,
        { ham, spam },
        (flags.account as string | undefined) ?? null,
        print,
      ).catch((error) => {
        throw new CliError((error as Error).message);
      });
      print(
        `learnt ${counts.ham.learnt} ham and ${counts.spam.learnt} spam ` +
          `(${counts.ham.unchanged + counts.spam.unchanged} already learnt so)`,
      );
    }),
  },
  "spam status": {
    usage: "postern spam status [--account ADDRESS]",
    summary: "show how many messages the spam models learnt",
    options: { account: { type: "string" } },
    run: withApp(0, async (app, _, flags) => {
      const { modelSummary } = await import("./spam_command.ts");
      print(
        await modelSummary(app, (flags.account as string | undefined) ?? null).catch((error) => {
          throw new CliError((error as Error).message);
        }),
      );
    }),
  },
  "spam score": {
    usage: "postern spam score [--account ADDRESS] < message",
    summary: "score a message from stdin as the filter would (no DNS lists, no LLM)",
    options: { account: { type: "string" } },
    run: withApp(0, async (app, _, flags, loaded) => {
      const { scoreMessage } = await import("./spam_command.ts");
      const raw = await readAll(Deno.stdin.readable, loaded.config.limits.max_message_size);
      print(
        await scoreMessage(app, raw, (flags.account as string | undefined) ?? null).catch(
          (error) => {
            throw new CliError((error as Error).message);
          },
        ),
      );
    }),
  },
  "version": {
    usage: "postern version",
    summary: "print the version",
    run() {
      print(`postern ${VERSION} (deno ${Deno.version.deno})`);
      return Promise.resolve(0);
    },
  },
};

const GROUPS = ["domain", "account", "alias", "mailbox", "token", "queue", "config", "spam"];

function queueId(text: string): number {
  const id = Number(text);
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`not a queue id: '${text}'`);
  return id;
}

function topHelp(): string {
  const lines = [
    "Postern — an all-in-one mail server",
    "",
    "Usage: postern [COMMAND] [--config FILE]",
    "",
  ];
  for (const command of Object.values(COMMANDS)) {
    lines.push(
      `  ${command.usage.split("  ")[0].replace(/^postern /, "").padEnd(44)} ${command.summary}`,
    );
  }
  lines.push("", "Every command takes --config FILE (default ./config.toml) and --help.");
  return lines.join("\n");
}

const VALUE_OPTIONS = new Set([
  "--config",
  "-c",
  "--password",
  "--hash",
  "--name",
  "--quota",
  "--domain",
  "--label",
]);

/** Indexes of the positional words in argv (skipping options and their values). */
function positionalIndexes(argv: string[]): number[] {
  const indexes: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (VALUE_OPTIONS.has(argv[i])) i++;
    else if (!argv[i].startsWith("-")) indexes.push(i);
  }
  return indexes;
}

export async function main(argv: string[]): Promise<number> {
  const positions = positionalIndexes(argv);
  const wantsHelp = argv.includes("--help") || argv.includes("-h");
  let name: string;
  let used: number[];
  if (positions.length === 0) {
    if (wantsHelp) {
      print(topHelp());
      return 0;
    }
    name = "serve";
    used = [];
  } else if (GROUPS.includes(argv[positions[0]])) {
    const group = argv[positions[0]];
    if (positions.length < 2) {
      const subs = Object.keys(COMMANDS).filter((k) => k.startsWith(group + " "));
      if (wantsHelp) {
        print(subs.map((k) => `${COMMANDS[k].usage}\n    ${COMMANDS[k].summary}`).join("\n"));
        return 0;
      }
      printError(`usage: postern ${group} ${subs.map((k) => k.split(" ")[1]).join("|")} …`);
      return 2;
    }
    name = `${group} ${argv[positions[1]]}`;
    used = positions.slice(0, 2);
  } else {
    name = argv[positions[0]];
    used = positions.slice(0, 1);
  }
  const rest = argv.filter((_, i) => !used.includes(i));
  const command = COMMANDS[name];
  if (!command) {
    printError(`unknown command '${name}'; run 'postern --help' for the list`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...COMMON, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    printError(`${(error as Error).message.split("\n")[0]}\nusage: ${command.usage}`);
    return 2;
  }
  if (parsed.values.help) {
    print(
      `${command.usage}\n\n${command.summary}\n\nOptions:\n  --config FILE  configuration file (default ./config.toml)`,
    );
    return 0;
  }
  const configFile = (parsed.values.config as string | undefined) ?? "./config.toml";
  try {
    return await command.run({
      positionals: parsed.positionals,
      flags: parsed.values as Flags,
      configFile,
    });
  } catch (error) {
    if (error instanceof UsageError) {
      printError(`${error.message}\nusage: ${command.usage}`);
      return 2;
    }
    // Every failure is one line; a stack trace only when asked for (POSTERN_DEBUG=1).
    const message = error instanceof Error ? error.message : String(error);
    printError(message.startsWith("error") ? message : `error: ${message}`);
    if (Deno.env.get("POSTERN_DEBUG") && error instanceof Error) printError(error.stack ?? "");
    return 1;
  }
}

function withApp(
  arity: number | [number, number],
  work: (app: App, positionals: string[], flags: Flags, loaded: LoadedConfig) => Promise<void>,
): Command["run"] {
  return async ({ positionals, flags, configFile }) => {
    const [min, max] = typeof arity === "number" ? [arity, arity] : arity;
    if (positionals.length < min) throw new UsageError("missing argument");
    if (positionals.length > max) throw new UsageError(`unexpected argument '${positionals[max]}'`);
    const loaded = await loadConfig(configFile);
    configureLogging({ level: "warn", format: loaded.config.log.format });
    if (loaded.config.log.file) configureLogging({ sink: fileSink(loaded.config.log.file) });
    const app = await openApp(loaded);
    try {
      await work(app, positionals, flags, loaded);
    } finally {
      await app.close();
    }
    return 0;
  };
}

/** The id of the --domain given, or undefined for all domains. */
async function domainFilter(app: App, domain: Flags[string]): Promise<number | undefined> {
  if (domain === undefined) return undefined;
  const row = await app.store.getDomain(String(domain).toLowerCase());
  if (!row) throw new CliError(`no domain ${domain}`);
  return row.id;
}

async function askNewPassword(): Promise<string> {
  const first = await readPassword("New password: ");
  if (Deno.stdin.isTerminal()) {
    const second = await readPassword("Repeat password: ");
    if (first !== second) throw new CliError("the passwords do not match");
  }
  if (!first) throw new CliError("the password is empty");
  return first;
}

function parseSize(text: string): number {
  const result = sizeSchema().safeParse(text);
  if (!result.success) throw new UsageError(`--quota: ${result.error.issues[0].message}`);
  return result.data;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

async function readAll(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > limit + 1024 * 1024) {
      throw new CliError(`message exceeds the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

const encoder = new TextEncoder();

export function print(text: string) {
  Deno.stdout.writeSync(encoder.encode(text + "\n"));
}

export function printError(text: string) {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

function printTable(headers: string[], rows: string[][]) {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  for (const row of all) {
    print(
      row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i])).join("  ")
        .trimEnd(),
    );
  }
}

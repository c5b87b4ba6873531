/** The outbound queue's options from config.toml (`[queue]`, `[server]`). */
import { isAbsolute, join } from "node:path";
import type { App } from "../../app.ts";
import type { Resolver } from "../../dns/resolver.ts";
import { FilePolicyCache, MtaSts } from "../mta_sts.ts";
import { OutboundQueue, type RelayHost } from "./queue.ts";

/** Reads the CA file (PEM, possibly several certificates); "" = none. */
async function readCaFile(path: string): Promise<string[]> {
  if (path === "") return [];
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new Error(`queue.ca_file: cannot read ${path}: ${(error as Error).message}`);
  }
  const certificates = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!certificates) throw new Error(`queue.ca_file: no PEM certificate in ${path}`);
  return certificates;
}

/** "host:port" (port defaults to 25; "[v6]:port" allowed). */
export function parseRelayHost(value: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(value) ?? /^([^:]+)(?::(\d+))?$/.exec(value);
  if (!match) throw new Error(`queue.relay_host: expected "host:port", found "${value}"`);
  const port = match[2] ? Number(match[2]) : 25;
  if (!(port >= 1 && port <= 65535)) throw new Error(`queue.relay_host: bad port in "${value}"`);
  return { host: match[1], port };
}

export async function createQueue(app: App, resolver: Resolver): Promise<OutboundQueue> {
  const { config, paths } = app.loaded;
  const q = config.queue;
  const caFile = q.ca_file === "" || isAbsolute(q.ca_file)
    ? q.ca_file
    : join(paths.configDir, q.ca_file);
  const ca = await readCaFile(caFile);
  let relay: RelayHost | null = null;
  if (q.relay_host !== "") {
    relay = {
      ...parseRelayHost(q.relay_host),
      tls: q.relay_tls,
      username: q.relay_username,
      password: q.relay_password,
    };
  }
  const mtaSts = q.mta_sts && !relay
    ? new MtaSts({
      resolver,
      cache: new FilePolicyCache(join(paths.dataDir, "mta-sts.json")),
      ca,
      timeoutMs: q.connect_timeout * 1000,
    })
    : null;
  return new OutboundQueue({
    store: app.store,
    blobs: app.blobs,
    directory: app.directory,
    messages: app.messages,
    resolver,
    hostname: config.server.hostname,
    helo: q.helo_name || config.server.hostname,
    concurrency: q.concurrency,
    retry: q.retry,
    expire: q.expire,
    delayNotice: q.delay_notice,
    connectTimeout: q.connect_timeout,
    replyTimeout: q.reply_timeout,
    remotePort: q.remote_port,
    sourceAddress: q.source_address,
    relay,
    mtaSts,
    ca,
  });
}

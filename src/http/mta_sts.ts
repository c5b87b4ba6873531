/**
 * The MTA-STS policy (RFC 8461) this server publishes for its local domains, at
 * https://mta-sts.<domain>/.well-known/mta-sts.txt.
 *
 * Implementation notes:
 * - The policy is answered only for a Host of mta-sts.<local domain> or the server's hostname
 *   (RFC 8461 3.3: the policy host is "mta-sts" prepended to the Policy Domain); any other Host
 *   gets 404, so the file never claims a domain we do not serve.
 * - The `_mta-sts` TXT id is a digest of the policy text: any change of mode, max_age or MX
 *   names changes it, which is what makes senders refetch (RFC 8461 3.1).
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.ts";
import type { App } from "../app.ts";
import { normalizeDomain } from "../directory/directory.ts";

/** RFC 8461 3.3: the policy's path under the policy host. */
export const MTA_STS_PATH = "/.well-known/mta-sts.txt";

/**
 * The policy file (RFC 8461 3.2), lines ending in LF.
 *
 * @example
 * mtaStsPolicy(config);
 * // "version: STSv1\nmode: testing\nmx: mail.example.com\nmax_age: 604800\n"
 */
export function mtaStsPolicy(config: Config): string {
  const { mode, max_age, mx } = config.mta_sts;
  const names = mx.length > 0 ? mx : [config.server.hostname];
  const unique = [...new Set(names.map((name) => name.toLowerCase()))];
  return [
    "version: STSv1",
    `mode: ${mode}`,
    ...unique.map((name) => `mx: ${name}`),
    `max_age: ${max_age}`,
    "",
  ].join("\n");
}

/**
 * The id for the `_mta-sts` TXT record: 32 hex digits of the SHA-256 of the policy text.
 *
 * @example
 * mtaStsPolicyId("version: STSv1\n..."); // "5f1c0a..." (32 characters)
 */
export function mtaStsPolicyId(policy: string): string {
  return createHash("sha256").update(policy).digest("hex").slice(0, 32);
}

/** The host name of a request, lower case, without port or trailing dot. */
export function requestHost(request: Request): string {
  return new URL(request.url).hostname.toLowerCase().replace(/\.$/, "");
}

/** Answers GET /.well-known/mta-sts.txt: the policy, or 404 for a host that is not ours. */
export async function serveMtaSts(app: App, request: Request): Promise<Response> {
  const config = app.loaded.config;
  const host = requestHost(request);
  let ours = host === config.server.hostname.toLowerCase();
  if (!ours && host.startsWith("mta-sts.")) {
    let domain = "";
    try {
      domain = normalizeDomain(host.slice("mta-sts.".length));
    } catch { /* not a domain name */ }
    ours = domain !== "" && (await app.store.getDomain(domain)) !== null;
  }
  if (!ours) return new Response("Not Found\n", { status: 404 });
  return new Response(mtaStsPolicy(config), {
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "max-age=300" },
  });
}

/**
 * HTTP-01 challenge answers (RFC 8555 8.3): the CA fetches
 * `http://<name>/.well-known/acme-challenge/<token>` on port 80 and expects the key
 * authorization as the body. Tokens live in memory only while a challenge is open.
 *
 * @example
 * const challenges = new Http01Challenges();
 * createHttpApp(health, [(http) => mountAcmeChallenges(http, challenges)]);
 * challenges.set(token, keyAuthorization);
 */
import type { Hono } from "hono";
import type { ChallengeSolver } from "./client.ts";

/** RFC 8555 8.3: a token is base64url; anything else is not one of ours. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class Http01Challenges implements ChallengeSolver {
  readonly type = "http-01";
  readonly #answers = new Map<string, string>();

  publish(_name: string, token: string, keyAuthorization: string): void {
    this.set(token, keyAuthorization);
  }

  withdraw(_name: string, token: string): void {
    this.set(token, null);
  }

  /** Publishes (or, with `null`, withdraws) the key authorization for `token`. */
  set = (token: string, keyAuthorization: string | null): void => {
    if (keyAuthorization === null) this.#answers.delete(token);
    else this.#answers.set(token, keyAuthorization);
  };

  get(token: string): string | undefined {
    return this.#answers.get(token);
  }
}

export function mountAcmeChallenges(app: Hono, challenges: Http01Challenges): void {
  app.get("/.well-known/acme-challenge/:token", (c) => {
    const token = c.req.param("token");
    const answer = TOKEN.test(token) ? challenges.get(token) : undefined;
    if (answer === undefined) return c.text("Not Found\n", 404);
    return c.text(answer, 200, { "Content-Type": "application/octet-stream" });
  });
}

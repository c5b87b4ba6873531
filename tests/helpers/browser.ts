/**
 * A browser's view of the server-rendered pages (/admin, /account) for integration tests: cookies
 * kept between requests (each checked to be HttpOnly, SameSite=Strict and on the pages' path),
 * redirects not followed, forms posted urlencoded.
 */
import { assert, assertEquals } from "./assert.ts";

export interface PageResponse {
  status: number;
  location: string | null;
  text: string;
  headers: Headers;
}

export class Browser {
  #cookies = new Map<string, string>();

  /** `home` is the pages' root ("/account", "/admin"): their cookies' Path and POSTs' redirect. */
  constructor(readonly base: string, readonly home = "/account") {}

  async request(
    method: "GET" | "POST",
    path: string,
    form?: Record<string, string>,
  ): Promise<PageResponse> {
    const headers: Record<string, string> = {};
    if (this.#cookies.size > 0) {
      headers.cookie = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    }
    let body: string | undefined;
    if (form) {
      headers["content-type"] = "application/x-www-form-urlencoded";
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body,
      redirect: "manual",
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      assert(attributes.includes(`Path=${this.home}`), line);
      assert(attributes.includes("HttpOnly") && attributes.includes("SameSite=Strict"), line);
      if (attributes.includes("Max-Age=0")) this.#cookies.delete(name);
      else this.#cookies.set(name, pair.slice(eq + 1));
    }
    return {
      status: response.status,
      location: response.headers.get("location"),
      text: await response.text(),
      headers: response.headers,
    };
  }

  /** The names of the cookies held. */
  cookies(): string[] {
    return [...this.#cookies.keys()];
  }

  /** GETs the home page and POSTs `form` with its CSRF token; returns the page after the redirect. */
  async submit(path: string, form: Record<string, string>, back = this.home): Promise<string> {
    const page = await this.request("GET", this.home);
    const token = csrfToken(page.text);
    const posted = await this.request("POST", path, { _csrf: token, ...form });
    assertEquals(posted.status, 303, posted.text);
    assertEquals(posted.location, back);
    return (await this.request("GET", back)).text;
  }

  /** Fills in the sign-in form at `${home}/login` (its CSRF token included). */
  async signIn(address: string, password: string): Promise<PageResponse> {
    const login = await this.request("GET", `${this.home}/login`);
    return await this.request("POST", `${this.home}/login`, {
      _csrf: csrfToken(login.text),
      address,
      password,
    });
  }
}

/** The CSRF token of the first form on a page. */
export function csrfToken(html: string): string {
  const match = /name="_csrf" value="([0-9a-f]{64})"/.exec(html);
  assert(match, html);
  return match[1];
}

/** The flash message of a page. */
export function flash(html: string): string {
  return /<div class="flash [a-z]+" role="(?:status|alert)">([^<]*)<\/div>/.exec(html)?.[1] ?? "";
}

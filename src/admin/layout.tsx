/** The frame of every web admin page: head, navigation, the flash message, the sign-out form. */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { CSRF_FIELD } from "./csrf.ts";
import type { AdminSession } from "./session.ts";

export interface PageProps {
  title: string;
  session: AdminSession;
  flash: AdminSession["flash"];
  children?: Child;
}

/** The hidden CSRF field every form of a session carries. */
export function CsrfField(props: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={props.token} />;
}

/** A one-button POST form (delete, retry, enable, ...). */
export function ActionButton(
  props: {
    action: string;
    label: string;
    token: string;
    danger?: boolean;
    fields?: Record<string, string>;
  },
) {
  return (
    <form class="inline" method="post" action={props.action}>
      <CsrfField token={props.token} />
      {Object.entries(props.fields ?? {}).map(([name, value]) => (
        <input type="hidden" name={name} value={value} />
      ))}
      <button type="submit" class={props.danger ? "danger" : undefined}>{props.label}</button>
    </form>
  );
}

/** Server-rendered once, so without the `key` Hono would print as an attribute. */
function navLink(href: string, label: string) {
  return <a href={href}>{label}</a>;
}

/** The HTML document around a page; the account page passes its own stylesheet and site name. */
export function Document(
  props: { title: string; children?: Child; stylesheet?: string; site?: string },
) {
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{props.title} · {props.site ?? "Postern admin"}</title>
          <link rel="stylesheet" href={props.stylesheet ?? "/admin/style.css"} />
        </head>
        <body>{props.children}</body>
      </html>
    </>
  );
}

export function Page(props: PageProps) {
  const links = [
    ["/admin", "Dashboard"],
    ["/admin/domains", "Domains"],
    ["/admin/accounts", "Accounts"],
    ["/admin/aliases", "Aliases"],
    ["/admin/queue", "Queue"],
    ["/admin/tokens", "API tokens"],
    ["/admin/settings", "Settings"],
    ["/admin/logs", "Logs"],
  ];
  return (
    <Document title={props.title}>
      <header>
        <strong>Postern</strong>
        <nav>
          {links.map(([href, label]) => navLink(href, label))}
        </nav>
        <span>{props.session.address}</span>
        <form method="post" action="/admin/logout">
          <CsrfField token={props.session.csrfToken} />
          <button type="submit">Sign out</button>
        </form>
      </header>
      <main>
        <h1>{props.title}</h1>
        {props.flash && (
          <div class={`flash ${props.flash.kind}`} role="status">{props.flash.text}</div>
        )}
        {props.children}
      </main>
    </Document>
  );
}

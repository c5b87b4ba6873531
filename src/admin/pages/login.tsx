/**
 * The sign-in pages of /admin and /account (sign_in.ts): address and password, then a TOTP code
 * when two-step sign-in is on.
 */
import type { Child } from "hono/jsx";
import { CsrfField, Document } from "../layout.tsx";

/** Where a set of pages lives and what it is called, for its sign-in pages (sign_in.ts). */
export interface SignInLook {
  /** "/admin" or "/account": the forms' targets and the stylesheet's place. */
  base: string;
  /** The page heading, e.g. "Postern admin". */
  heading: string;
  /** The site name in the title. */
  site: string;
}

function SignInDocument(props: { look: SignInLook; message?: string; children?: Child }) {
  const { look } = props;
  return (
    <Document title="Sign in" stylesheet={`${look.base}/style.css`} site={look.site}>
      <main class="login">
        <h1>{look.heading}</h1>
        {props.message && <div class="flash error" role="alert">{props.message}</div>}
        {props.children}
      </main>
    </Document>
  );
}

/** The first step: address and the account's own password (not an app password). */
export function loginView(look: SignInLook, token: string, message?: string) {
  return (
    <SignInDocument look={look} message={message}>
      <form class="stack" method="post" action={`${look.base}/login`}>
        <CsrfField token={token} />
        <label>
          Address<br />
          <input name="address" type="email" autocomplete="username" required />
        </label>
        <label>
          Password<br />
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Sign in</button>
      </form>
    </SignInDocument>
  );
}

/** The second step, with two-step sign-in on: the code from the authenticator app. */
export function codeView(look: SignInLook, token: string, message?: string) {
  return (
    <SignInDocument look={look} message={message}>
      <form class="stack" method="post" action={`${look.base}/login/code`}>
        <CsrfField token={token} />
        <CodeField autofocus />
        <button type="submit">Sign in</button>
      </form>
    </SignInDocument>
  );
}

/** The 6-digit code field of the second step (also on the account page). */
export function CodeField(props: { label?: string; autofocus?: boolean }) {
  return (
    <label>
      {props.label ?? "Code from your authenticator app"}
      <br />
      <input
        name="code"
        inputmode="numeric"
        autocomplete="one-time-code"
        pattern="[0-9 ]{6,7}"
        maxlength={7}
        required
        autofocus={props.autofocus}
      />
    </label>
  );
}

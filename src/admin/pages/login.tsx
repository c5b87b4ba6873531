/** The sign-in pages: an administrator's address and password, then a TOTP code if it is on. */
import { CsrfField, Document } from "../layout.tsx";

export function LoginPage(props: { token: string; message?: string; address?: string }) {
  return (
    <Document title="Sign in">
      <main class="login">
        <h1>Postern admin</h1>
        {props.message && <div class="flash error" role="alert">{props.message}</div>}
        <form class="stack" method="post" action="/admin/login">
          <CsrfField token={props.token} />
          <label>
            Address<br />
            <input
              name="address"
              type="email"
              autocomplete="username"
              required
              value={props.address ?? ""}
            />
          </label>
          <label>
            Password<br />
            <input name="password" type="password" autocomplete="current-password" required />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Document>
  );
}

/** The sign-in page for c.html (so callers need no JSX). */
export function loginView(token: string, message?: string) {
  return <LoginPage token={token} message={message} />;
}

/** The second step of the sign-in, for c.html: the code from the authenticator app. */
export function codeView(token: string, message?: string) {
  return (
    <Document title="Sign in">
      <main class="login">
        <h1>Postern admin</h1>
        {message && <div class="flash error" role="alert">{message}</div>}
        <form class="stack" method="post" action="/admin/login/code">
          <CsrfField token={token} />
          <CodeField autofocus />
          <button type="submit">Sign in</button>
        </form>
      </main>
    </Document>
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

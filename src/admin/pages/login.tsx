/** The sign-in page: an administrator's address and password. */
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

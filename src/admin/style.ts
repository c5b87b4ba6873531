/** The web admin's stylesheet, served at /admin/style.css from the binary. */
export const ADMIN_CSS = `
:root { color-scheme: light dark; --accent: #2457a6; --ok: #1d7a3a; --bad: #b3261e; --warn: #9a6700; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem;
  background: var(--accent); color: #fff; }
header a { color: #fff; text-decoration: none; }
header nav { display: flex; gap: 1rem; flex: 1; }
header form { margin: 0; }
main { padding: 1rem 1.2rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #8884; vertical-align: top; }
td.value { font-family: ui-monospace, monospace; font-size: 13px; word-break: break-all; }
form.inline { display: inline-flex; gap: .3rem; margin: 0 .3rem .2rem 0; }
form.stack { display: grid; gap: .5rem; max-width: 24rem; }
input, button, select { font: inherit; padding: .25rem .5rem; }
button { cursor: pointer; }
button.danger { color: var(--bad); }
.flash { padding: .5rem .8rem; border-radius: 4px; margin-bottom: 1rem; }
.flash.ok { background: #1d7a3a22; border: 1px solid var(--ok); }
.flash.error { background: #b3261e22; border: 1px solid var(--bad); }
.present { color: var(--ok); font-weight: 600; }
.missing { color: var(--bad); font-weight: 600; }
.wrong { color: var(--warn); font-weight: 600; }
.unchecked { color: #888; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dl.facts dt { font-weight: 600; }
.login { max-width: 22rem; margin: 4rem auto; }
pre { white-space: pre-wrap; word-break: break-all; font-size: 13px; }
.qr svg { width: 14rem; height: 14rem; }
#totp-uri { word-break: break-all; font-size: 12px; }
`;

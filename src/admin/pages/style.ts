/** The admin pages' one stylesheet, served at /admin/style.css (the CSP allows no inline style). */
export const STYLESHEET = `
:root {
  color-scheme: light dark;
  --fg: #1d2127;
  --muted: #5b6470;
  --bg: #fbfbfa;
  --panel: #ffffff;
  --line: #d9dde3;
  --accent: #2456c9;
  --ok: #17703a;
  --bad: #b3261e;
  --warn: #8a5a00;
}
@media (prefers-color-scheme: dark) {
  :root {
    --fg: #e6e8eb;
    --muted: #9aa3ad;
    --bg: #15181c;
    --panel: #1d2126;
    --line: #343a42;
    --accent: #8fb0ff;
    --ok: #6fcf8f;
    --bad: #ff8a80;
    --warn: #f0c060;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg);
  background: var(--bg);
}
header, main, footer { max-width: 56rem; margin: 0 auto; padding: 0 1.25rem; }
header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding-top: 1rem; padding-bottom: 1rem; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; color: var(--fg); text-decoration: none; }
header form { margin: 0; }
main { padding-top: 1.5rem; padding-bottom: 3rem; }
footer { color: var(--muted); font-size: 0.875rem; padding-bottom: 2rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.125rem; margin: 2rem 0 0.5rem; }
a { color: var(--accent); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem; }
h1 code { font-size: 0.9em; }
pre {
  margin: 0;
  padding: 1rem;
  overflow-x: auto;
  white-space: pre;
  background: var(--panel);
  border: 1px solid var(--line);
  border-radius: 6px;
}
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.4rem 1.25rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
dl.facts dd.note { white-space: pre-wrap; }
.hint { color: var(--muted); font-size: 0.875rem; }
.status { display: inline-block; padding: 0.05rem 0.55rem; border-radius: 999px; border: 1px solid currentColor; font-size: 0.875rem; font-weight: 600; }
.status-pending { color: var(--warn); }
.status-approved, .status-consumed { color: var(--ok); }
.status-denied { color: var(--bad); }
.status-expired { color: var(--muted); }
.notice { padding: 0.75rem 1rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); margin: 0 0 1.25rem; }
.notice.error { border-color: var(--bad); color: var(--bad); }
form.decide, form.sign-in { margin-top: 1.5rem; display: grid; gap: 0.75rem; max-width: 40rem; }
label { font-weight: 600; }
input[type="password"], textarea {
  width: 100%;
  padding: 0.55rem 0.7rem;
  font: inherit;
  color: var(--fg);
  background: var(--panel);
  border: 1px solid var(--line);
  border-radius: 6px;
}
textarea { min-height: 5rem; resize: vertical; }
.buttons { display: flex; gap: 0.75rem; }
button {
  font: inherit;
  font-weight: 600;
  padding: 0.5rem 1.1rem;
  border-radius: 6px;
  border: 1px solid var(--line);
  background: var(--panel);
  color: var(--fg);
  cursor: pointer;
}
button.approve { background: #17703a; border-color: #17703a; color: #fff; }
button.deny { background: #b3261e; border-color: #b3261e; color: #fff; }
button.link { border: none; background: none; padding: 0; color: var(--accent); font-weight: normal; text-decoration: underline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.875rem; }
`.trimStart();

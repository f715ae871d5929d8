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
  --on-accent: #ffffff;
  --current: #e8eefb;
  --removed: #fdecea;
  --removed-strong: #f6c4bf;
  --added: #e6f4ea;
  --added-strong: #b5e0c2;
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
    --on-accent: #0d1420;
    --current: #26324a;
    --removed: #3a1f1d;
    --removed-strong: #6e2f2a;
    --added: #15301f;
    --added-strong: #22573a;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg);
  background: var(--bg);
}
header, main, footer { max-width: 64rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1rem; padding-bottom: 0.75rem; border-bottom: 1px solid var(--line); }
header .bar { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: 0.5rem 1rem; }
header .brand { font-weight: 600; color: var(--fg); text-decoration: none; }
header .who { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.25rem 1rem; }
header .who strong { overflow-wrap: anywhere; }
header form { margin: 0; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.25rem; margin: 0.75rem 0 0; padding: 0; }
nav a { display: inline-block; padding: 0.35rem 0.75rem; border-radius: 6px; color: var(--fg); text-decoration: none; font-weight: 600; }
nav a:hover { text-decoration: underline; }
nav a[aria-current="page"] { background: var(--current); color: var(--accent); text-decoration: underline; text-underline-offset: 0.3em; }
.skip { position: absolute; left: -999px; top: 0.5rem; padding: 0.5rem 1rem; background: var(--panel); border: 2px solid var(--accent); border-radius: 6px; z-index: 1; }
.skip:focus { left: 0.5rem; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
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
.tone-ok, .grant-active { color: var(--ok); }
.tone-bad, .grant-revoked { color: var(--bad); }
.tone-warn { color: var(--warn); }
.tone-muted, .grant-expired { color: var(--muted); }
.notice { padding: 0.75rem 1rem; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); margin: 0 0 1.25rem; }
.notice.error { border-color: var(--bad); color: var(--bad); }
.notice.ok { border-color: var(--ok); }
form.decide, form.sign-in, form.stack { margin-top: 1.5rem; display: grid; gap: 0.75rem; max-width: 40rem; }
form.editor { max-width: none; }
.filters { display: flex; flex-wrap: wrap; align-items: flex-end; gap: 0.75rem 1rem; margin: 0 0 1.25rem; }
.filters .field { flex: 1 1 12rem; min-width: 0; }
.field { display: grid; gap: 0.3rem; }
.field .hint { margin: 0; }
fieldset { border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem 1rem 1rem; display: grid; gap: 0.75rem; }
legend { font-weight: 600; padding: 0 0.25rem; }
fieldset.servers .hint { margin: 0; }
.choices { display: flex; flex-wrap: wrap; gap: 0.4rem 1.25rem; }
label.choice { font-weight: normal; white-space: nowrap; }
td.server { white-space: nowrap; }
label { font-weight: 600; }
input[type="password"], input[type="text"], select, textarea {
  width: 100%;
  padding: 0.55rem 0.7rem;
  font: inherit;
  color: var(--fg);
  background: var(--panel);
  border: 1px solid var(--line);
  border-radius: 6px;
}
textarea { min-height: 5rem; resize: vertical; }
textarea.code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem; line-height: 1.4; }
.buttons { display: flex; flex-wrap: wrap; align-items: center; gap: 0.75rem; }
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
button.primary { background: var(--accent); border-color: var(--accent); color: var(--on-accent); }
button.danger { background: #b3261e; border-color: #b3261e; color: #fff; }
a.button-link { display: inline-block; padding: 0.5rem 1.1rem; border: 1px solid var(--line); border-radius: 6px; font-weight: 600; text-decoration: none; }
a.danger-link { color: var(--bad); font-weight: 600; }
button.link { border: none; background: none; padding: 0; color: var(--accent); font-weight: normal; text-decoration: underline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 0.875rem; white-space: nowrap; }
.table-scroll { position: relative; overflow-x: auto; margin: 0 0 1rem; }
td.reason { min-width: 12rem; overflow-wrap: anywhere; }
time.short, td.time { white-space: nowrap; }
td.arguments { max-width: 22rem; overflow-wrap: anywhere; }
td.arguments mark { background: var(--current); color: inherit; font-weight: 700; padding: 0 0.2rem; border-radius: 3px; }
.status.waiting { margin-top: 0.3rem; white-space: nowrap; }
::placeholder { color: var(--muted); font-style: italic; opacity: 1; }
.pager { display: flex; gap: 1.5rem; }
ul.actions { list-style: none; display: flex; flex-wrap: wrap; gap: 0.5rem 1.5rem; padding: 0; margin: 1.5rem 0; }
ul.plain { margin: 0; padding-left: 1.1rem; }
ul.problems { margin: 0 0 1.25rem; padding-left: 1.25rem; }
ul.problems li { margin: 0.25rem 0; overflow-wrap: anywhere; }
ul.problems code.path { font-weight: 600; color: var(--bad); }
.usage.full { color: var(--bad); font-weight: 600; }
#new-token { white-space: pre-wrap; word-break: break-all; font-size: 1rem; }
section.result { margin: 1.5rem 0; }
section.replay { margin: 2.5rem 0 1.5rem; padding-top: 1rem; border-top: 2px solid var(--line); }
pre.wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
/* A tool definition's review: removed lines and words red and marked −, added ones green and marked +, readable without colour. */
.diff { margin: 0 0 1rem; padding: 0.4rem 0; background: var(--panel); border: 1px solid var(--line); border-radius: 6px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9rem; line-height: 1.45; }
.diff-line { display: grid; grid-template-columns: 1.75rem 1fr; min-height: 1.45em; padding-right: 0.75rem; }
.diff-line .marker { text-align: center; color: var(--muted); user-select: none; }
.diff-line .text { white-space: pre-wrap; overflow-wrap: anywhere; }
.diff-line.removed { background: var(--removed); }
.diff-line.added { background: var(--added); }
.diff-line.removed .marker { color: var(--bad); font-weight: 700; }
.diff-line.added .marker { color: var(--ok); font-weight: 700; }
.diff-line.skipped { color: var(--muted); font-style: italic; }
.diff del { background: var(--removed-strong); color: inherit; text-decoration: line-through; border-radius: 2px; }
.diff ins { background: var(--added-strong); color: inherit; text-decoration: underline; border-radius: 2px; }
table.json-diff td.pointer { min-width: 10rem; overflow-wrap: anywhere; }
table.json-diff pre.value { padding: 0.35rem 0.5rem; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 20rem; overflow: auto; }
pre.value.removed { background: var(--removed); }
pre.value.added { background: var(--added); }
code.hash { overflow-wrap: anywhere; }
details { margin: 1.5rem 0; }
details summary { cursor: pointer; font-weight: 600; }
details h3 { font-size: 1rem; margin: 1rem 0 0.4rem; }
@media (max-width: 40rem) {
  header, main { padding-left: 0.75rem; padding-right: 0.75rem; }
  /* Tables become one card per row: each cell under its column's name. */
  table.cards thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.cards, table.cards tbody, table.cards tr, table.cards td { display: block; width: 100%; }
  table.cards tr { border-bottom: 1px solid var(--line); padding: 0.5rem 0; }
  table.cards td { position: relative; border: none; padding: 0.15rem 0 0.15rem 7.25rem; min-height: 1.9rem; min-width: 0; overflow-wrap: anywhere; }
  table.cards td::before { content: attr(data-label); position: absolute; left: 0; top: 0.2rem; width: 6.75rem; color: var(--muted); font: 600 0.875rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  dl.facts { grid-template-columns: 1fr; gap: 0.1rem; }
  dl.facts dd { margin-bottom: 0.5rem; }
  th, td { padding: 0.4rem 0.45rem; }
  pre { padding: 0.75rem; }
}
`.trimStart();

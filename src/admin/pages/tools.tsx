import type { ToolDefinition } from "../../pins/definition.ts";
import { diffJson, diffText, foldUnchanged, type DiffPiece, type FoldedLine, type JsonChange } from "../../pins/diff.ts";
import { MAX_DEFINITION_BYTES } from "../../pins/tool-pins.ts";
import type { PendingChange, PinRecord, PinSource } from "../../pins/types.ts";
import { clip } from "../../text/clip.ts";
import { CSRF_FIELD, type AdminSession } from "../session.ts";
import { prettyJson, visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Notice, ShortTime, TableScroll, When } from "./parts.tsx";
import { serverPath } from "./servers.tsx";

/**
 * The console's review of tool definitions (src/pins/): the changed and new
 * tools awaiting review, one change as a diff against its pin with the form
 * that accepts it, and a server's pins. Every definition is the server's
 * own text (up to 64 KiB): all of it goes through JSX's escaping and
 * `visible`, and what one cell shows is cut.
 */

export const TOOLS_PATH = "/admin/tools";
export const toolsServerPath = (server: string) => `${TOOLS_PATH}/${encodeURIComponent(server)}`;
export const toolPath = (server: string, name: string) => `${toolsServerPath(server)}/${encodeURIComponent(name)}`;

/** Characters of one value a cell of the JSON diff shows. */
const CELL_CHARS = 4000;
/** Characters of a whole definition shown at once. */
const DEFINITION_CHARS = 100_000;
/** Characters of a tool name or pointer shown on one line. */
const NAME_CHARS = 300;
/**
 * Tool names longer than this get no link: a link carries the whole name, so
 * a page of them could be many megabytes (MCP bounds names at 128 characters;
 * the pins do not).
 */
const MAX_LINKED_NAME = 1024;
const linkable = (name: string) => name.length <= MAX_LINKED_NAME;
/** Nesting deeper than this is shown compact: indentation would multiply the text's size. */
const INDENTED_DEPTH = 24;

/** The fields the JSON diff covers (the description has a text diff of its own, when it is text). */
const JSON_FIELDS = ["title", "inputSchema", "outputSchema", "annotations"] as const;

/** Where a pin came from and who made it, in words (a catalog or first-use pin names no person). */
function pinnedBy(pin: PinRecord): string {
  const sources: Record<PinSource, string> = {
    catalog: "from the shipped catalog (the server package version this gateway is built with)",
    first_use: "on first use (trusted as the gateway first saw this server's tools)",
    accepted: `accepted by ${visible(clip(pin.pinnedBy, NAME_CHARS))}`,
  };
  return sources[pin.source];
}

const KIND_TEXT: Record<PendingChange["kind"], string> = {
  changed: "changed since it was pinned",
  new: "new: not listed when the server's tools were pinned",
};

/** Whether a value nests deeper than `limit` (walked with a stack of its own). */
function deeperThan(value: unknown, limit: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/** A JSON value as an operator reads it: indented unless deeply nested, hidden characters escaped, cut at `max` characters. */
export function shownJson(value: unknown, max: number): string {
  let text: string;
  try {
    text = prettyJson(value, deeperThan(value, INDENTED_DEPTH) ? 0 : 2);
  } catch {
    return "(nested too deeply to show)";
  }
  return text.length > max ? `${clip(text, max)}\n(${text.length - max} more characters not shown)` : text;
}

/** What the text diff takes: a description that is text, or absent. */
const isText = (value: unknown): value is string | undefined => value === undefined || typeof value === "string";

/** The fields of a definition the JSON diff compares (the description too when it is not text). */
function jsonPart(definition: ToolDefinition | undefined, withDescription: boolean): Record<string, unknown> {
  const part: Record<string, unknown> = {};
  if (!definition) return part;
  if (withDescription && definition.description !== undefined) part.description = definition.description;
  for (const field of JSON_FIELDS) if (definition[field] !== undefined) part[field] = definition[field];
  return part;
}

function Pieces({ pieces }: { pieces: DiffPiece[] }) {
  return (
    <>
      {pieces.map((piece) => (piece.kind === "same" ? visible(piece.text) : piece.kind === "removed" ? <del>{visible(piece.text)}</del> : <ins>{visible(piece.text)}</ins>))}
    </>
  );
}

const MARKER = { same: " ", removed: "−", added: "+" } as const;
const SPOKEN = { same: "", removed: "removed: ", added: "added: " } as const;

function DiffRow({ line }: { line: FoldedLine }) {
  if (line.kind === "skipped") {
    return (
      <div class="diff-line skipped">
        <span class="marker"> </span>
        <span class="text">
          … {line.count} unchanged {line.count === 1 ? "line" : "lines"} …
        </span>
      </div>
    );
  }
  return (
    <div class={`diff-line ${line.kind}`}>
      <span class="marker" aria-hidden="true">
        {MARKER[line.kind]}
      </span>
      <span class="text">
        {SPOKEN[line.kind] ? <span class="visually-hidden">{SPOKEN[line.kind]}</span> : null}
        {line.pieces ? <Pieces pieces={line.pieces} /> : visible(line.text)}
      </span>
    </div>
  );
}

/** The description, pinned against served, line by line and word by word. */
function DescriptionDiff({ before, after }: { before: string; after: string }) {
  if (before === after) return <p class="hint">Unchanged.</p>;
  const diff = diffText(before, after);
  return (
    <>
      {diff.whole ? <p class="hint">Too long to compare line by line: the pinned description is shown removed and the served one added, whole.</p> : null}
      <div class="diff" role="group" aria-label="Description: − pinned, + served">
        {foldUnchanged(diff.lines).map((line) => (
          <DiffRow line={line} />
        ))}
      </div>
    </>
  );
}

const KIND_TONE: Record<JsonChange["kind"], string> = { added: "ok", removed: "bad", changed: "warn" };

function JsonValue({ value, side }: { value: unknown; side: "removed" | "added" }) {
  if (value === undefined) return <span class="hint">absent</span>;
  return <pre class={`value ${side}`}>{shownJson(value, CELL_CHARS)}</pre>;
}

/** The schemas, title and annotations, pinned against served: one row per JSON pointer that differs. */
function JsonDiffTable({ before, after }: { before: Record<string, unknown>; after: Record<string, unknown> }) {
  const { entries, more } = diffJson(before, after);
  if (entries.length === 0) return <p class="hint">Unchanged.</p>;
  return (
    <>
      <TableScroll label="Schema and annotation changes">
        <table class="cards json-diff">
          <thead>
            <tr>
              <th scope="col">Pointer</th>
              <th scope="col">Change</th>
              <th scope="col">Pinned (before)</th>
              <th scope="col">Served (after)</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr>
                <td data-label="Pointer" class="pointer">
                  <code>{visible(clip(entry.path, NAME_CHARS))}</code>
                </td>
                <td data-label="Change">
                  <span class={`status tone-${KIND_TONE[entry.kind]}`}>{entry.kind}</span>
                </td>
                <td data-label="Pinned (before)">
                  <JsonValue value={entry.before} side="removed" />
                </td>
                <td data-label="Served (after)">
                  <JsonValue value={entry.after} side="added" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
      {more > 0 ? <p class="hint">…and {more} more differences, not listed: the whole definitions are below.</p> : null}
    </>
  );
}

function PinFacts({ pin, now }: { pin: PinRecord; now: number }) {
  return (
    <>
      <code class="hash">{pin.hash}</code>
      <div class="hint">
        {pinnedBy(pin)}, <When iso={pin.pinnedAt} now={now} />
      </div>
    </>
  );
}

/** The served definition against its pin: the description as text, the rest as JSON pointers. */
function ChangeDiff({ pinned, served }: { pinned: ToolDefinition | undefined; served: ToolDefinition }) {
  const textual = isText(pinned?.description) && isText(served.description);
  return (
    <>
      {textual ? (
        <>
          <h2 id="description">Description</h2>
          <DescriptionDiff before={(pinned?.description as string | undefined) ?? ""} after={(served.description as string | undefined) ?? ""} />
        </>
      ) : null}
      <h2 id="schema">{textual ? "Title, schemas and annotations" : "Description, title, schemas and annotations"}</h2>
      <JsonDiffTable before={jsonPart(pinned, !textual)} after={jsonPart(served, !textual)} />
      <details>
        <summary>The whole definitions</summary>
        <h3>Pinned</h3>
        <pre class="wrap">{pinned ? shownJson(pinned, DEFINITION_CHARS) : "(the pin's definition is not stored)"}</pre>
        <h3>Served</h3>
        <pre class="wrap">{shownJson(served, DEFINITION_CHARS)}</pre>
      </details>
    </>
  );
}

/** A new tool's whole definition: its description as text, the rest as JSON. */
function WholeDefinition({ definition }: { definition: ToolDefinition }) {
  const { name: _name, description, ...rest } = definition;
  return (
    <>
      <h2 id="description">Description</h2>
      {description === undefined ? (
        <p class="hint">None.</p>
      ) : typeof description === "string" ? (
        <pre class="wrap description">{visible(clip(description, DEFINITION_CHARS), { lines: true })}</pre>
      ) : (
        <pre class="wrap">{shownJson(description, DEFINITION_CHARS)}</pre>
      )}
      <h2 id="schema">Title, schemas and annotations</h2>
      {Object.keys(rest).length === 0 ? <p class="hint">None.</p> : <pre class="wrap">{shownJson(rest, DEFINITION_CHARS)}</pre>}
    </>
  );
}

function AcceptForm({ change, session }: { change: PendingChange; session: AdminSession }) {
  return (
    <>
      <h2 id="accept">Accept</h2>
      <form method="post" action={`${toolPath(change.server, change.name)}/accept`} class="stack" aria-labelledby="accept">
        <input type="hidden" name={CSRF_FIELD} value={session.csrfToken} />
        <input type="hidden" name="hash" value={change.hash} />
        <p>
          Accepting pins the definition shown here (<code class="hash">{change.hash.slice(0, 12)}…</code>) as this tool's: agents see the tool again and can call it, and its
          arguments are checked against this schema. It is audited as <code>tool.accept</code>, with your name. If the server changes the tool again before you accept,
          nothing is accepted and you are shown the new change.
        </p>
        <div class="buttons">
          <button type="submit" class="primary">
            Accept this definition
          </button>
        </div>
        <p class="hint">
          Not accepting keeps the tool hidden from agents and its calls refused (under <code>"pinning": "enforce"</code>, the default). If the server serves the pinned
          definition again, this change goes away by itself.
        </p>
      </form>
    </>
  );
}

/** What the last action did, above a tool's page. */
export type PageNotice = { kind: "ok" | "error"; text: string };

type ServerChanges = { server: string; changes: PendingChange[]; more: boolean };

function ChangesTable({ changes, now, withServer }: { changes: PendingChange[]; now: number; withServer: boolean }) {
  return (
    <TableScroll label="Changes awaiting review">
      <table class="cards">
        <thead>
          <tr>
            {withServer ? <th scope="col">Server</th> : null}
            <th scope="col">Tool</th>
            <th scope="col">Change</th>
            <th scope="col">First seen (UTC)</th>
            <th scope="col">Last seen (UTC)</th>
            <th scope="col">Review</th>
          </tr>
        </thead>
        <tbody>
          {changes.map((change) => (
            <tr>
              {withServer ? (
                <td data-label="Server" class="server">
                  <a href={toolsServerPath(change.server)}>
                    <code>{change.server}</code>
                  </a>
                </td>
              ) : null}
              <td data-label="Tool">
                <code>{visible(clip(change.name, NAME_CHARS))}</code>
              </td>
              <td data-label="Change">
                <span class={`status tone-${change.kind === "changed" ? "warn" : "muted"}`}>{change.kind}</span>
              </td>
              <td data-label="First seen" class="time">
                <ShortTime iso={change.firstSeen} now={now} />
              </td>
              <td data-label="Last seen" class="time">
                <ShortTime iso={change.lastSeen} now={now} />
              </td>
              <td data-label="Review">
                {linkable(change.name) ? (
                  <a href={toolPath(change.server, change.name)}>
                    review<span class="visually-hidden"> {visible(clip(change.name, NAME_CHARS))}</span>
                  </a>
                ) : (
                  <span class="hint">name too long to open</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableScroll>
  );
}

function PinningIntro() {
  return (
    <p class="hint">
      Every server's tools are pinned: the gateway keeps the SHA-256 of each tool's definition (name, title, description, input and output schema, annotations) as it was
      trusted, from the shipped catalog or on the server's first use. A tool whose definition differs from its pin, or that is new, is hidden from agents and its calls are
      refused until an operator accepts it here (under <code>"pinning": "enforce"</code>, the default).
    </p>
  );
}

/** Every server's changes awaiting review. */
export function ToolsPage({ servers, session, now = Date.now() }: { servers: ServerChanges[]; session: AdminSession; now?: number }) {
  const changes = servers.flatMap((server) => server.changes);
  const cut = servers.filter((server) => server.more);
  return (
    <Layout title="Tools" session={session} section="tools">
      <h1>Tools</h1>
      <PinningIntro />
      {changes.length === 0 ? (
        <Notice kind="ok">Nothing awaits review: every tool the servers list matches its pin.</Notice>
      ) : (
        <>
          <h2 id="changes">{changes.length === 1 ? "1 change awaits review" : `${changes.length} changes await review`}</h2>
          <ChangesTable changes={changes} now={now} withServer={true} />
        </>
      )}
      {cut.length > 0 ? (
        <p class="hint">
          More changes than fit here await review on {cut.map((server, index) => <>{index > 0 ? ", " : ""}<a href={toolsServerPath(server.server)}>{server.server}</a></>)}.
        </p>
      ) : null}
      <h2 id="servers">Pins by server</h2>
      <ul class="plain">
        {servers.map((server) => (
          <li>
            <a href={toolsServerPath(server.server)}>
              <code>{server.server}</code>
            </a>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

type ToolsServerPageProps = {
  server: string;
  changes: PendingChange[];
  changesNext: string | null;
  pins: PinRecord[];
  pinsNext: string | null;
  /** Not the first page of pins. */
  paged: boolean;
  session: AdminSession;
  now?: number;
};

/** One server: its changes awaiting review and its pins, a page at a time. */
export function ToolsServerPage({ server, changes, changesNext, pins, pinsNext, paged, session, now = Date.now() }: ToolsServerPageProps) {
  const base = toolsServerPath(server);
  return (
    <Layout title={`Tools of ${server}`} session={session} section="tools">
      <h1>
        Tools of <code>{server}</code>
      </h1>
      <ul class="actions">
        <li>
          <a href={TOOLS_PATH}>Every server's changes</a>
        </li>
        <li>
          <a href={serverPath(server)}>The server's status and tools</a>
        </li>
      </ul>
      <h2 id="changes">Awaiting review</h2>
      {changes.length === 0 ? <p>Nothing awaits review on this server.</p> : <ChangesTable changes={changes} now={now} withServer={false} />}
      {changesNext ? (
        <p class="hint">
          More changes await review than fit on this page: <a href={`${base}?changes-after=${encodeURIComponent(changesNext)}`}>the next ones</a>.
        </p>
      ) : null}
      <h2 id="pins">Pinned</h2>
      {pins.length === 0 ? (
        <p>{paged ? "No more pins." : "No tool is pinned yet: the server's tools are pinned on their first complete tools/list."}</p>
      ) : (
        <TableScroll label="Pinned tools">
          <table class="cards">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col">Hash</th>
                <th scope="col">Pinned from</th>
                <th scope="col">By</th>
                <th scope="col">When (UTC)</th>
              </tr>
            </thead>
            <tbody>
              {pins.map((pin) => (
                <tr>
                  <td data-label="Tool">
                    {linkable(pin.name) ? (
                      <a href={toolPath(server, pin.name)}>
                        <code>{visible(clip(pin.name, NAME_CHARS))}</code>
                      </a>
                    ) : (
                      <code>{visible(clip(pin.name, NAME_CHARS))}</code>
                    )}
                  </td>
                  <td data-label="Hash">
                    <code class="hash" title={pin.hash}>
                      {pin.hash.slice(0, 12)}…
                    </code>
                  </td>
                  <td data-label="Pinned from">{pin.source.replace("_", " ")}</td>
                  <td data-label="By">{visible(clip(pin.pinnedBy, NAME_CHARS))}</td>
                  <td data-label="When" class="time">
                    <ShortTime iso={pin.pinnedAt} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <p class="pager">
        {paged ? <a href={base}>First pins</a> : null}
        {pinsNext ? (
          <a href={`${base}?after=${encodeURIComponent(pinsNext)}`} rel="next">
            More pins
          </a>
        ) : null}
      </p>
    </Layout>
  );
}

/** One change awaiting review: what it is, the diff against its pin (or a new tool's whole definition), and the accept form. */
export function ToolReviewPage({ change, session, notice, now = Date.now() }: { change: PendingChange; session: AdminSession; notice?: PageNotice | undefined; now?: number }) {
  const name = visible(clip(change.name, NAME_CHARS));
  return (
    <Layout title={`Review ${visible(clip(change.name, 80))}`} session={session} section="tools">
      <h1>
        Review <code>{name}</code> on <code>{change.server}</code>
      </h1>
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      <Notice>
        {change.kind === "changed"
          ? "The server now serves a definition of this tool that differs from its pin."
          : "The server lists this tool, which had no pin: it was not there when the server's tools were pinned."}{" "}
        Until an operator accepts it, it is hidden from agents' tools/list and calls to it are refused (<code>definition_changed</code>); nothing reaches the server.
      </Notice>
      <dl class="facts">
        <dt>Server</dt>
        <dd>
          <a href={toolsServerPath(change.server)}>
            <code>{change.server}</code>
          </a>
        </dd>
        <dt>Tool</dt>
        <dd>
          <code>{name}</code>
        </dd>
        <dt>Change</dt>
        <dd>{KIND_TEXT[change.kind]}</dd>
        <dt>First seen</dt>
        <dd>
          <When iso={change.firstSeen} now={now} />
        </dd>
        <dt>Last seen</dt>
        <dd>
          <When iso={change.lastSeen} now={now} />
        </dd>
        <dt>Served</dt>
        <dd>
          <code class="hash">{change.hash}</code>
          <div class="hint">{change.bytes} bytes</div>
        </dd>
        <dt>Pinned</dt>
        <dd>{change.pinned ? <PinFacts pin={change.pinned} now={now} /> : <span class="hint">no pin: a new tool</span>}</dd>
      </dl>
      {change.definition === null ? (
        <Notice kind="error">
          This definition is {change.bytes} bytes, more than the {MAX_DEFINITION_BYTES / 1024} KiB the gateway keeps: it can be neither shown nor accepted, and the tool stays
          refused.
        </Notice>
      ) : (
        <>
          {change.pinned ? <ChangeDiff pinned={change.pinned.definition} served={change.definition} /> : <WholeDefinition definition={change.definition} />}
          <AcceptForm change={change} session={session} />
        </>
      )}
    </Layout>
  );
}

/** A pinned tool with nothing awaiting review: its pin and the definition it holds. */
export function ToolPinPage({ server, pin, session, notice, now = Date.now() }: { server: string; pin: PinRecord; session: AdminSession; notice?: PageNotice | undefined; now?: number }) {
  const name = visible(clip(pin.name, NAME_CHARS));
  return (
    <Layout title={`Pin of ${visible(clip(pin.name, 80))}`} session={session} section="tools">
      <h1>
        <code>{name}</code> on <code>{server}</code>
      </h1>
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      <p>Nothing awaits review for this tool: the server serves it as pinned, or has not listed it since.</p>
      <dl class="facts">
        <dt>Server</dt>
        <dd>
          <a href={toolsServerPath(server)}>
            <code>{server}</code>
          </a>
        </dd>
        <dt>Pinned</dt>
        <dd>
          <PinFacts pin={pin} now={now} />
        </dd>
      </dl>
      {pin.definition ? <WholeDefinition definition={pin.definition} /> : null}
      <ul class="actions">
        <li>
          <a href={TOOLS_PATH}>Every server's changes</a>
        </li>
      </ul>
    </Layout>
  );
}

import type { ServerStatus, ServerTool, ServerToolPage } from "../manage/servers.ts";
import type { AdminSession } from "../session.ts";
import { visible } from "./display.ts";
import { Layout } from "./layout.tsx";
import { Notice, Relative, TableScroll } from "./parts.tsx";

export const serverPath = (name: string) => `/admin/servers/${encodeURIComponent(name)}`;

/** A server's status in a word: it answers, or it does not (with why in its title). */
function Reachability({ server }: { server: ServerStatus }) {
  return server.reachable ? (
    <span class="status tone-ok">answers</span>
  ) : (
    <span class="status tone-bad" title={server.error ?? undefined}>
      unreachable
    </span>
  );
}

function Reach({ server }: { server: ServerStatus }) {
  return server.reach.via === "binding" ? (
    <>
      binding <code>{server.reach.binding}</code>
    </>
  ) : (
    <code>{server.reach.origin}</code>
  );
}

function Info({ server }: { server: ServerStatus }) {
  if (!server.serverInfo) return <span class="hint">unknown</span>;
  return (
    <>
      {visible(server.serverInfo.name)} <span class="hint">{visible(server.serverInfo.version)}</span>
    </>
  );
}

function Listed({ server, now }: { server: ServerStatus; now: number }) {
  return server.listedAt ? <Relative iso={server.listedAt} now={now} /> : <span class="hint">not listed</span>;
}

function Tags({ tool }: { tool: ServerTool }) {
  if (tool.tags.length === 0) return <span class="hint">none</span>;
  return <>{tool.tags.map((tag, index) => <>{index > 0 ? " " : ""}<code>@{tag}</code></>)}</>;
}

/** Every declared server: how the gateway reaches it, whether it answers now, what it says it is, how many tools it lists. */
export function ServersPage({ servers, session, now = Date.now() }: { servers: ServerStatus[]; session: AdminSession; now?: number }) {
  const down = servers.filter((server) => !server.reachable);
  return (
    <Layout title="Servers" session={session} section="servers">
      <h1>Servers</h1>
      <p class="hint">
        The MCP servers behind this gateway, each at <code>/mcp/&lt;server&gt;</code>, as the gateway found them just now: it asked each one itself, with its
        credential (looks are reused for 15 s). A grant reaches the servers it names; one that names none reaches the default.
      </p>
      {down.length > 0 ? (
        <Notice kind="error">
          {down.length === 1 ? "One server does not answer" : `${down.length} servers do not answer`}: {down.map((server) => server.name).join(", ")}. Calls to it
          are answered with an error.
        </Notice>
      ) : null}
      <TableScroll label="Servers">
        <table class="cards">
          <thead>
            <tr>
              <th scope="col">Server</th>
              <th scope="col">Reached at</th>
              <th scope="col">Status</th>
              <th scope="col">Says it is</th>
              <th scope="col">Tools</th>
              <th scope="col">Listed</th>
            </tr>
          </thead>
          <tbody>
            {servers.map((server) => (
              <tr>
                <td data-label="Server" class="server">
                  <a href={serverPath(server.name)}>
                    <code>{server.name}</code>
                  </a>
                  {server.default ? <span class="hint"> (default)</span> : null}
                </td>
                <td data-label="Reached at">
                  <Reach server={server} />
                </td>
                <td data-label="Status">
                  <Reachability server={server} />
                  {server.error ? <div class="hint">{visible(server.error)}</div> : null}
                </td>
                <td data-label="Says it is">
                  <Info server={server} />
                </td>
                <td data-label="Tools">{server.toolCount === null ? <span class="hint">unknown</span> : <a href={serverPath(server.name)}>{server.toolCount}</a>}</td>
                <td data-label="Listed">
                  <Listed server={server} now={now} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableScroll>
    </Layout>
  );
}

/** One server: its facts, and a page of its tools with the tags policies see them by. */
export function ServerPage({ page, paged, session, now = Date.now() }: { page: ServerToolPage; paged: boolean; session: AdminSession; now?: number }) {
  const { server, tools, cursor } = page;
  return (
    <Layout title={`Server ${server.name}`} session={session} section="servers">
      <h1>
        Server <code>{server.name}</code>
      </h1>
      <dl class="facts">
        <dt>Reached at</dt>
        <dd>
          <Reach server={server} />
        </dd>
        <dt>Status</dt>
        <dd>
          <Reachability server={server} /> {server.error ? <span class="hint">{visible(server.error)}</span> : null}
        </dd>
        <dt>Says it is</dt>
        <dd>
          <Info server={server} />
          {server.protocolVersion ? <span class="hint"> · protocol {visible(server.protocolVersion)}</span> : null}
        </dd>
        <dt>Tools</dt>
        <dd>{server.toolCount === null ? <span class="hint">unknown</span> : server.toolCount}</dd>
        <dt>Listed</dt>
        <dd>
          <Listed server={server} now={now} />
        </dd>
        <dt>Default</dt>
        <dd>{server.default ? "yes: grants that name no server reach this one" : "no"}</dd>
      </dl>
      <ul class="actions">
        <li>
          <a href={`/admin/decisions?server=${encodeURIComponent(server.name)}`}>Decisions on this server</a>
        </li>
        <li>
          <a href="/admin/servers">All servers</a>
        </li>
      </ul>
      <h2 id="tools">Tools</h2>
      {tools.length === 0 ? (
        <p>{server.reachable ? "This server lists no tools." : "The tools are unknown while the server does not answer."}</p>
      ) : (
        <TableScroll label="Tools">
          <table class="cards" aria-labelledby="tools">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col">Tags</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {tools.map((tool) => (
                <tr>
                  <td data-label="Tool">
                    <code>{visible(tool.name)}</code>
                    {tool.title ? <div class="hint">{visible(tool.title)}</div> : null}
                  </td>
                  <td data-label="Tags">
                    <Tags tool={tool} />
                  </td>
                  <td data-label="Description" class="reason">
                    {tool.description ? visible(tool.description) : <span class="hint">none</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <p class="pager">
        {paged ? <a href={serverPath(server.name)}>First tools</a> : null}
        {cursor ? (
          <a href={`${serverPath(server.name)}?cursor=${encodeURIComponent(cursor)}`} rel="next">
            More tools
          </a>
        ) : null}
      </p>
    </Layout>
  );
}

import type { Bindings } from "../env.ts";
import { GatewayError } from "../errors.ts";
import { ErrorCode } from "../mcp/jsonrpc.ts";
import type { Server } from "../servers/registry.ts";
import { servicesFor } from "../services.ts";
import { toolPinsOf, type ToolPinsRpc } from "./tool-pins.ts";
import type { AcceptOutcome, ChangesPage, PendingChange, PinRecord, PinsPage } from "./types.ts";

/** At most this many changes or pins per page (each server keeps at most 200 changes). */
export const MAX_PAGE = 200;

/**
 * The operator's side of tool pinning, shared by the admin API, the console
 * and the CLI (through the API): the changes awaiting review, the pins, and
 * accepting a change. Each server's pins live in its own ToolPins object.
 */
export class PinService {
  #env: Bindings;

  constructor(env: Bindings) {
    this.#env = env;
  }

  /** The declared servers, in order. */
  servers(): Server[] {
    return [...servicesFor(this.#env).config.servers.values()];
  }

  /** A declared server by name; a GatewayError (404) for any other. */
  server(name: string): Server {
    const server = servicesFor(this.#env).config.servers.get(name);
    if (!server) throw new GatewayError(404, ErrorCode.InvalidParams, `no server named ${JSON.stringify(name.slice(0, 40))} is declared`);
    return server;
  }

  /** One server's changes awaiting review, by tool name. */
  changes(server: string, query: { limit: number; after?: string | undefined }): Promise<ChangesPage> {
    const declared = this.server(server);
    return this.#object(declared).changes(declared.name, { limit: Math.min(query.limit, MAX_PAGE), after: query.after }, declared.catalog);
  }

  /** Every server's changes awaiting review (each server's first page: at most 200 each). */
  async allChanges(limitPerServer = MAX_PAGE): Promise<Array<{ server: string; changes: PendingChange[]; more: boolean }>> {
    return Promise.all(
      this.servers().map(async (server) => {
        const page = await this.#object(server).changes(server.name, { limit: Math.min(limitPerServer, MAX_PAGE) }, server.catalog);
        return { server: server.name, changes: page.changes, more: page.next !== null };
      }),
    );
  }

  /** One tool's change awaiting review, or undefined. */
  change(server: string, name: string): Promise<PendingChange | undefined> {
    const declared = this.server(server);
    return this.#object(declared).change(declared.name, name, declared.catalog);
  }

  pins(server: string, query: { limit: number; after?: string | undefined }): Promise<PinsPage> {
    const declared = this.server(server);
    return this.#object(declared).pins({ limit: Math.min(query.limit, MAX_PAGE), after: query.after }, declared.catalog);
  }

  pin(server: string, name: string): Promise<PinRecord | undefined> {
    const declared = this.server(server);
    return this.#object(declared).pin(name, declared.catalog);
  }

  /**
   * Accepts a tool's change (audited as `tool.accept`, with `by`). This
   * isolate sees the new pin at once; others within the pin cache's TTL.
   */
  async accept(server: string, name: string, by: string, hash?: string): Promise<AcceptOutcome> {
    const declared = this.server(server);
    const outcome = await this.#object(declared).accept({ server: declared.name, name, hash, by }, declared.catalog);
    if (outcome.ok) servicesFor(this.#env).servers.get(declared.name)?.pins.invalidate();
    return outcome;
  }

  /** A declared server's pins object itself (tests plant observations through it). */
  object(name: string): ToolPinsRpc {
    return this.#object(this.server(name));
  }

  #object(server: Server): ToolPinsRpc {
    return toolPinsOf(this.#env.TOOL_PINS, server);
  }
}

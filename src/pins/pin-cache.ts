import type { Server } from "../servers/registry.ts";
import { MAX_NAME_CHARS, toolPinsOf, type ToolPins, type ToolPinsRpc } from "./tool-pins.ts";
import type { Observation, ObservedTool, PinnedTool, PinRecord, PinSnapshot } from "./types.ts";

/** How long an isolate judges with the pins it read: an operator's acceptance reaches every isolate within this. */
export const PIN_TTL_MS = 10_000;
/** Tools an isolate remembers having reported (a server's pins and changes are bounded the same way). */
const MAX_REPORTED = 2_000;

/** What the pins say of one listed tool. */
export type PinState =
  /** Its definition is the one pinned. */
  | "pinned"
  /** The server has no pins yet: trusted, and pinned as first seen. */
  | "first_use"
  /** Its definition differs from its pin. */
  | "changed"
  /** It has no pin: the server added it after its tools were pinned. */
  | "new"
  /** The pins could not be read: nothing can be told. */
  | "unknown";


export type PinView = {
  state(tool: Pick<PinnedTool, "name" | "hash">): PinState;
  /** Why the pins could not be read (every state is then "unknown"). */
  problem: string | undefined;
  /** The snapshot's version: views of one version judge every tool alike (undefined when unreadable). */
  version: number | undefined;
};

type Cached = { pins: Map<string, string>; seeded: boolean; version: number; fetchedAt: number };

/**
 * One server's pins as this isolate judges with them: a snapshot of names
 * and hashes read from the server's ToolPins object, kept PIN_TTL_MS, and
 * the last good one kept when a read fails (none at all: every tool is
 * "unknown", so enforcement refuses it). What this isolate finds differing
 * it reports once per tool and definition.
 *
 * As elsewhere, no promise is shared between requests (workerd cancels a
 * request awaiting another's I/O): requests that find the snapshot stale
 * each read it.
 */
export class PinCache {
  #server: Server;
  #cached: Cached | undefined;
  #reported = new Map<string, string>();
  #pinned = new Map<string, PinRecord | undefined>();

  constructor(server: Server) {
    this.#server = server;
  }

  /** The pins to judge with now. */
  async view(namespace: DurableObjectNamespace<ToolPins>, now = Date.now()): Promise<PinView> {
    if (this.#cached && now - this.#cached.fetchedAt < PIN_TTL_MS) return viewOf(this.#cached);
    try {
      this.#apply(await this.#object(namespace).snapshot(this.#server.catalog), now);
    } catch (error) {
      console.error("tool pins could not be read", { server: this.#server.name, error: String(error) });
      if (!this.#cached) return UNREADABLE;
      // The last good pins stand; they are read again at the next request.
    }
    return viewOf(this.#cached!);
  }

  /** Forgets the snapshot: the next request reads the pins again (after an acceptance in this isolate). */
  invalidate(): void {
    this.#cached = undefined;
    this.#pinned.clear();
  }

  /**
   * Reports what a tool list showed that the pins do not hold (a change, a
   * new tool, or, before the server's first complete list, every tool to
   * pin), once per tool and definition; nothing when there is nothing new
   * to tell. The report answers with the pins as they then are. Never
   * throws: a report that fails is made again by the next list.
   */
  async report(namespace: DurableObjectNamespace<ToolPins>, tools: PinnedTool[], complete: boolean, reviewUrl: string): Promise<void> {
    if (!this.#cached) await this.view(namespace);
    const cached = this.#cached;
    if (!cached) return;
    const view = viewOf(cached);
    const observed: ObservedTool[] = [];
    const matching: string[] = [];
    for (const tool of tools) {
      const state = view.state(tool);
      if (state === "pinned") {
        if (this.#reported.delete(tool.name)) matching.push(tool.name);
      } else if (tool.name.length <= MAX_NAME_CHARS && this.#reported.get(tool.name) !== tool.hash && this.#reported.size < MAX_REPORTED) {
        this.#reported.set(tool.name, tool.hash);
        observed.push({ name: tool.name, hash: tool.hash, definition: tool.definition });
      }
    }
    const seeds = !cached.seeded && complete;
    if (observed.length === 0 && matching.length === 0 && !seeds) return;
    const observation: Observation = { server: this.#server.name, tools: observed, matching, complete, reviewUrl };
    try {
      this.#apply(await this.#object(namespace).observe(observation, this.#server.catalog), Date.now());
    } catch (error) {
      // Told again by the next list that shows them.
      for (const tool of observed) this.#reported.delete(tool.name);
      console.error("tool pinning: report failed", { server: this.#server.name, error: String(error) });
    }
  }

  /** A tool's pin with its definition (what its calls are validated against when it changed under "monitor"), cached per hash. */
  async pinned(namespace: DurableObjectNamespace<ToolPins>, name: string): Promise<PinRecord | undefined> {
    const hash = this.#cached?.pins.get(name);
    const known = this.#pinned.get(name);
    if (known && known.hash === hash) return known;
    const pin = await this.#object(namespace).pin(name, this.#server.catalog);
    if (this.#pinned.size >= MAX_REPORTED) this.#pinned.clear();
    this.#pinned.set(name, pin);
    return pin;
  }

  #apply(snapshot: PinSnapshot, now: number): void {
    // An older answer (a slow report) never replaces a newer snapshot.
    if (this.#cached && snapshot.version < this.#cached.version) return;
    this.#cached = { pins: new Map(snapshot.pins), seeded: snapshot.seeded, version: snapshot.version, fetchedAt: now };
  }

  #object(namespace: DurableObjectNamespace<ToolPins>): ToolPinsRpc {
    return toolPinsOf(namespace, this.#server);
  }
}

const UNREADABLE: PinView = { state: () => "unknown", problem: "the gateway could not read this server's pinned tool definitions", version: undefined };

function viewOf(cached: Cached): PinView {
  return {
    problem: undefined,
    version: cached.version,
    state(tool) {
      const hash = cached.pins.get(tool.name);
      if (hash === tool.hash) return "pinned";
      if (hash !== undefined) return "changed";
      return cached.seeded ? "new" : "first_use";
    },
  };
}

import type { EventId, EventStore, JSONRPCMessage, StreamId } from "@modelcontextprotocol/server";

/**
 * Resumability for the sessionful 2025-era leg: the transport stores every SSE
 * event it writes here, and a `GET` carrying `Last-Event-ID` is answered by
 * replaying the events of that stream written after that id. This is what lets a
 * test prove the gateway keeps `Last-Event-ID` on a reconnect.
 *
 * One store per session (the transport is per session), capped so a long-lived
 * session cannot grow without bound: the oldest events are forgotten first, and a
 * `Last-Event-ID` older than the window cannot be resumed (LegacySessions answers 400).
 *
 * Event ids are `<streamId>_<sequence>`: unique across the session's streams and
 * readable in a request log; the stream of an id is looked up, never parsed.
 */
export class InMemoryEventStore implements EventStore {
  readonly #maxEvents: number;
  readonly #events = new Map<EventId, { streamId: StreamId; message: JSONRPCMessage }>();
  #sequence = 0;

  constructor(maxEvents = 1000) {
    this.#maxEvents = maxEvents;
  }

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    this.#sequence += 1;
    // Zero-padded so ids sort lexically in write order, which makes logs readable.
    const eventId = `${streamId}_${String(this.#sequence).padStart(10, "0")}`;
    this.#events.set(eventId, { streamId, message });
    if (this.#events.size > this.#maxEvents) {
      const oldest = this.#events.keys().next().value;
      if (oldest !== undefined) this.#events.delete(oldest);
    }
    return eventId;
  }

  /** Whether `eventId` is still in the window, so a resume from it can be answered. */
  has(eventId: EventId): boolean {
    return this.#events.has(eventId);
  }

  // No `getStreamIdForEventId`: without it the SDK lets a resuming GET take over
  // the stream it resumes instead of answering 409 while the old connection is
  // still mapped, see LegacySessions for why that matters in workerd.

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const last = this.#events.get(lastEventId);
    if (last === undefined) throw new Error(`Unknown or expired event id: ${lastEventId}`);
    let after = false;
    for (const [eventId, { streamId, message }] of this.#events) {
      if (eventId === lastEventId) {
        after = true;
        continue;
      }
      // Priming events are stored as `{}`: they carry an id for the client but
      // nothing to deliver again.
      if (after && streamId === last.streamId && Object.keys(message).length > 0) await send(eventId, message);
    }
    return last.streamId;
  }
}

/**
 * Tool-definition pinning (issue 20): a tool whose definition the upstream
 * changed since it was pinned, or that it added, is hidden from tools/list
 * and refused at call time, with nothing forwarded, until an operator accepts
 * it. The sandbox changes definitions per request (`x-sandbox-tool-variant`,
 * test/upstream/tool-variants.ts); each test declares a server of its own
 * name, so each has pins of its own, seeded from the Iterable catalog.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AdminRecord } from "../../src/audit/record.ts";
import type { AuditPage, AuditPageQuery } from "../../src/grant-object/audit.ts";
import { GLOBAL_OBJECT } from "../../src/limits/limiter.ts";
import { PinService } from "../../src/pins/service.ts";
import toolsSnapshot from "../upstream/iterable-tools.json";
import { INJECTED_INSTRUCTION } from "../upstream/tool-variants.ts";
import { createGrant, decisionOf, gateway, GATEWAY_URL, putPolicy, rawAgent, SANDBOX_FEATURES, SANDBOX_MCP, type Gateway } from "./gateway.ts";

const VARIANT = "x-sandbox-tool-variant";
const credential = { credentialHeader: "api-key", credentialSecret: "UPSTREAM_CREDENTIAL" };
const ALL = toolsSnapshot.tools.map((tool) => tool.name);

type Listed = { name: string; description?: string; inputSchema?: { properties?: Record<string, unknown> } };

/** A gateway in front of one server of a name no other test uses, pinned from the Iterable catalog (or on first use). */
function pinnedGateway(options: { catalog?: boolean; url?: string } = {}): { gw: Gateway; server: string; pins: PinService } {
  const server = `pins-${crypto.randomUUID().slice(0, 8)}`;
  const declared = { name: server, url: options.url ?? SANDBOX_MCP, ...credential, ...(options.catalog === false ? {} : { catalog: "iterable" }) };
  const gw = gateway({ SERVERS: JSON.stringify([declared]) });
  return { gw, server, pins: new PinService(gw.env) };
}

async function agentWith(gw: Gateway, policy: object = { version: "1", default: "allow" }) {
  const { token } = await createGrant(await putPolicy(policy));
  return { token, ...(await rawAgent(gw, token)) };
}

async function listed(agent: Awaited<ReturnType<typeof agentWith>>, variant?: string): Promise<Listed[]> {
  const answer = await agent.rpc("tools/list", {}, variant === undefined ? {} : { [VARIANT]: variant });
  return (answer.result?.tools ?? []) as Listed[];
}

/** The calls the sandbox received under a tag, per tool. */
async function callsTo(tag: string): Promise<Map<string, number>> {
  const counts = (await (await fetch(new URL(`__calls?tag=${tag}`, env.SANDBOX_URL))).json()) as { tools: Array<{ name: string; count: number }> };
  return new Map(counts.tools.map((tool) => [tool.name, tool.count]));
}

/** The operators' actions recorded in the global object, newest first. */
async function globalAdminRecords(): Promise<AdminRecord[]> {
  const object = env.GRANT_OBJECT.getByName(GLOBAL_OBJECT) as unknown as { auditPage(query: AuditPageQuery): Promise<AuditPage> };
  const { records } = await object.auditPage({ decision: "admin", limit: 100 });
  return records.filter((record): record is AdminRecord => record.kind === "admin");
}

async function eventually<T>(read: () => Promise<T | undefined>, label: string, timeoutMs = 5_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const CHANGE_TEXT = "the server changed this tool's definition since it was pinned; an operator must review the change before the tool can be used";
const NEW_TEXT = "the server added this tool after its tools were pinned; an operator must review it before it can be used";

describe("a changed or new tool is hidden and refused until reviewed", () => {
  const cases = [
    { change: "a changed description", variant: "description:send_campaign", tool: "send_campaign", args: { campaignId: 7 }, reason: CHANGE_TEXT },
    { change: "an added argument", variant: "argument:send_campaign", tool: "send_campaign", args: { campaignId: 7 }, reason: CHANGE_TEXT },
    { change: "a changed annotation", variant: "annotation:get_lists", tool: "get_lists", args: {}, reason: CHANGE_TEXT },
    { change: "a new tool", variant: "new:export_everything", tool: "export_everything", args: { query: "*" }, reason: NEW_TEXT },
  ];
  for (const { change, variant, tool, args, reason } of cases) {
    it(`${change}: left out of tools/list, refused with the reason, nothing forwarded; the unchanged tools keep working`, async () => {
      const { gw, server, pins } = pinnedGateway();
      const agent = await agentWith(gw);
      const before = (await listed(agent)).map((each) => each.name);
      expect(before).toEqual(ALL);

      const after = (await listed(agent, variant)).map((each) => each.name);
      expect(after).toEqual(ALL.filter((name) => name !== tool));

      const refused = await agent.call(tool, args, { [VARIANT]: variant });
      expect(refused.result?.isError).toBe(true);
      expect(refused.result?.content?.[0]?.text).toContain(reason);
      expect(decisionOf(refused)).toMatchObject({ decision: "definition_changed", tool, rule: "/pinning", reason });
      expect((await callsTo(agent.tag)).get(tool)).toBeUndefined();

      const unchanged = await agent.call("get_campaigns", {}, { [VARIANT]: variant });
      expect(unchanged.result?.isError).toBeFalsy();
      expect((await callsTo(agent.tag)).get("get_campaigns")).toBe(1);

      // Kept for an operator's review, against the pin it differs from.
      const pending = await eventually(() => pins.change(server, tool), "the change to be recorded");
      expect(pending).toMatchObject({ server, name: tool, kind: tool === "export_everything" ? "new" : "changed" });
      expect(pending.pinned?.source ?? null).toBe(tool === "export_everything" ? null : "catalog");
    });
  }

  it("accepting restores the tool with its new definition, audited as tool.accept with who accepted", async () => {
    const { gw, server, pins } = pinnedGateway();
    const agent = await agentWith(gw);
    const variant = "description:send_campaign";
    expect((await listed(agent, variant)).some((tool) => tool.name === "send_campaign")).toBe(false);
    const pending = await eventually(() => pins.change(server, "send_campaign"), "the change to be recorded");
    expect(pending.definition?.description).toContain(INJECTED_INSTRUCTION);

    const stale = await pins.accept(server, "send_campaign", "alice (test)", "0".repeat(64));
    expect(stale).toMatchObject({ ok: false, reason: "stale" });
    const accepted = await pins.accept(server, "send_campaign", "alice (test)", pending.hash);
    expect(accepted).toMatchObject({ ok: true, pin: { name: "send_campaign", hash: pending.hash, source: "accepted", pinnedBy: "alice (test)" } });
    expect(await pins.change(server, "send_campaign")).toBeUndefined();

    const shown = (await listed(agent, variant)).find((tool) => tool.name === "send_campaign");
    expect(shown?.description).toContain(INJECTED_INSTRUCTION);
    expect((await agent.call("send_campaign", { campaignId: 7 }, { [VARIANT]: variant })).result?.isError).toBeFalsy();
    expect((await callsTo(agent.tag)).get("send_campaign")).toBe(1);
    // The old definition is now a change.
    expect((await listed(agent)).some((tool) => tool.name === "send_campaign")).toBe(false);

    const records = await globalAdminRecords();
    expect(records.find((record) => record.action === "tool.accept" && record.target === `${server}/send_campaign`)).toMatchObject({
      by: "alice (test)",
      detail: { server, tool: "send_campaign", hash: pending.hash },
    });
  });

  it("an upstream that goes back to the pinned definition ends the change awaiting review", async () => {
    const { gw, server, pins } = pinnedGateway();
    const agent = await agentWith(gw);
    await listed(agent, "argument:send_campaign");
    await eventually(() => pins.change(server, "send_campaign"), "the change to be recorded");
    expect((await listed(agent)).some((tool) => tool.name === "send_campaign")).toBe(true);
    await eventually(async () => ((await pins.change(server, "send_campaign")) === undefined ? true : undefined), "the change to be dropped");
  });
});

describe("pinning modes", () => {
  it('"monitor" lets a changed tool through, records it, and checks its arguments against the pinned schema', async () => {
    const { gw, server, pins } = pinnedGateway();
    const agent = await agentWith(gw, { version: "1", default: "allow", pinning: "monitor" });
    const variant = "argument:send_campaign";
    const shown = (await listed(agent, variant)).find((tool) => tool.name === "send_campaign");
    expect(Object.keys(shown?.inputSchema?.properties ?? {})).toContain("bcc");

    // Valid under the live schema (bcc is offered), not under the pinned one (additionalProperties: false).
    const refused = await agent.call("send_campaign", { campaignId: 7, bcc: "everyone@example.com" }, { [VARIANT]: variant });
    expect(decisionOf(refused)).toMatchObject({ decision: "invalid_arguments" });
    expect(refused.result?.content?.[0]?.text).toContain("bcc");
    expect((await callsTo(agent.tag)).get("send_campaign")).toBeUndefined();

    expect((await agent.call("send_campaign", { campaignId: 7 }, { [VARIANT]: variant })).result?.isError).toBeFalsy();
    expect((await callsTo(agent.tag)).get("send_campaign")).toBe(1);
    await eventually(() => pins.change(server, "send_campaign"), "the change to be recorded");
  });

  it('"off" shows and forwards a changed tool as the server defines it', async () => {
    const { gw } = pinnedGateway();
    const agent = await agentWith(gw, { version: "1", default: "allow", pinning: "off" });
    const variant = "argument:send_campaign";
    expect((await listed(agent, variant)).some((tool) => tool.name === "send_campaign")).toBe(true);
    expect((await agent.call("send_campaign", { campaignId: 7, bcc: "x@example.com" }, { [VARIANT]: variant })).error).toMatchObject({ code: -32602 });
    expect((await callsTo(agent.tag)).get("send_campaign")).toBe(1);
  });

  it("a per-server section's pinning applies to that server alone", async () => {
    const { gw, server } = pinnedGateway();
    const agent = await agentWith(gw, { version: "1", default: "allow", servers: { [server]: { default: "allow", pinning: "off" } } });
    expect((await listed(agent, "description:send_campaign")).some((tool) => tool.name === "send_campaign")).toBe(true);
  });
});

describe("where pins come from", () => {
  it("a server without a catalog is pinned on first use, audited as tool.pin; a later change is then hidden", async () => {
    const { gw, server, pins } = pinnedGateway({ catalog: false });
    const agent = await agentWith(gw);
    expect((await listed(agent, "description:send_campaign")).some((tool) => tool.name === "send_campaign")).toBe(true);
    const pinned = await eventually(() => pins.pin(server, "send_campaign"), "the first-use pins");
    expect(pinned).toMatchObject({ source: "first_use", pinnedBy: "gateway (trust on first use)" });
    expect(pinned.definition?.description).toContain(INJECTED_INSTRUCTION);
    const records = await globalAdminRecords();
    expect(records.find((record) => record.action === "tool.pin" && record.target === server)).toMatchObject({ detail: { server, count: ALL.length } });

    // What was trusted first is what counts: the catalog's own definition is now the change.
    await eventually(async () => ((await listed(agent)).some((tool) => tool.name === "send_campaign") ? undefined : true), "the original to be hidden");
  });

  it("pins that cannot be read show no tool and refuse every call, naming why", async () => {
    const broken = { getByName: () => ({ snapshot: () => Promise.reject(new Error("Network connection lost.")) }) };
    const gw = gateway({ TOOL_PINS: broken, UPSTREAM_URL: SANDBOX_FEATURES });
    const agent = await agentWith(gw);
    expect(await listed(agent)).toEqual([]);
    const refused = await agent.call("echo", { text: "hi" });
    expect(decisionOf(refused)).toMatchObject({ decision: "definition_changed", reason: expect.stringContaining("could not read this server's pinned tool definitions") });
    expect((await callsTo(agent.tag)).get("echo")).toBeUndefined();
  });
});

describe("operators hear of it", () => {
  it("a change is announced once on the approval webhook, signed, with the review page's link and without the definitions", async () => {
    const { gw, server } = pinnedGateway();
    const agent = await agentWith(gw);
    await listed(agent, "description:send_campaign");
    await listed(agent, "description:send_campaign");
    type Delivery = { headers: Record<string, string>; body: string };
    const mine = async () => {
      const received = (await (await fetch(new URL("__received/by-label", env.WEBHOOK_SINK_URL))).json()) as Delivery[];
      return received.filter((delivery) => delivery.body.includes(`"server":"${server}"`));
    };
    const [delivery] = await eventually(async () => ((await mine()).length > 0 ? mine() : undefined), "the webhook delivery");
    const body = JSON.parse(delivery!.body) as { type: string; change: Record<string, unknown>; reviewUrl: string; text: string };
    expect(body).toMatchObject({ type: "tool.changed", change: { server, tool: "send_campaign", kind: "changed" }, reviewUrl: "https://gateway.test/admin/tools" });
    expect(delivery!.body).not.toContain(INJECTED_INSTRUCTION);
    expect(body.text).toContain("`send_campaign` on `" + server + "` is hidden and refused until an operator reviews it");
    const headers = delivery!.headers;
    expect(headers["x-tool-change-id"]).toBe(headers["x-delivery-id"]);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(env.APPROVAL_WEBHOOK_SECRET), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const signed = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${headers["x-signature-timestamp"]}.${headers["x-delivery-id"]}.${delivery!.body}`)));
    expect(headers["x-signature-256"]).toBe(`sha256=${[...signed].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await mine()).toHaveLength(1);
  });
});

describe("agents learn of it", () => {
  it("an open GET stream gets notifications/tools/list_changed when a change hides a tool and when accepting restores it", async () => {
    const { gw, server, pins } = pinnedGateway();
    const agent = await agentWith(gw);
    await listed(agent);
    const stream = await gw.fetch(GATEWAY_URL, {
      headers: { authorization: `Bearer ${agent.token}`, accept: "text/event-stream", "mcp-session-id": agent.sessionId },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const notices = watchFor(reader, "notifications/tools/list_changed");
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await listed(agent, "description:send_campaign");
      await notices.next(10_000);
      const pending = await eventually(() => pins.change(server, "send_campaign"), "the change to be recorded");
      await pins.accept(server, "send_campaign", "alice (test)", pending.hash);
      await notices.next(10_000);
    } finally {
      await reader.cancel();
    }
  });
});

/** Counts SSE messages carrying `method` as they arrive on a stream. */
function watchFor(reader: ReadableStreamDefaultReader<string>, method: string) {
  let seen = 0;
  let taken = 0;
  let text = "";
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      text += value;
      const events = text.split("\n\n");
      text = events.pop() ?? "";
      for (const event of events) if (event.includes(`"method":"${method}"`)) seen++;
    }
  })();
  void pump;
  return {
    async next(timeoutMs: number): Promise<void> {
      const until = Date.now() + timeoutMs;
      while (seen <= taken) {
        if (Date.now() > until) throw new Error(`no ${method} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      taken++;
    },
  };
}

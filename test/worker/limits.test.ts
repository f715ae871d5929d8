import { env } from "cloudflare:workers";
import { evictDurableObject, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditRecord, CallRecord } from "../../src/audit/record.ts";
import type { GrantObject } from "../../src/grant-object/grant-object.ts";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, upstreamLog } from "./gateway.ts";

const SEND_CAMPAIGN_POLICY = {
  version: "1",
  default: "deny",
  tools: { send_campaign: { limits: [{ counter: "send_campaign_rate", window: "minute", max: 10, scope: "grant" }] } },
} as const;

async function agentOn(policy: object, vars: Record<string, string> = {}) {
  const { token, record } = await createGrant(await putPolicy(policy as never));
  const gw = gateway(vars);
  return { agent: await rawAgent(gw, token), grant: record, gw, token };
}

/**
 * The grant objects as they are, except that `authorize` (the call the limiter makes) rejects the way a
 * Durable Object RPC does when its object cannot be reached; every other method (the audit's) is the real one.
 */
function limiterUnreachable() {
  let calls = 0;
  const unreachableError = () => Object.assign(new Error("Network connection lost."), { retryable: true, remote: false });
  const stubFor = (stub: DurableObjectStub<GrantObject>) =>
    new Proxy(stub, {
      get(target, key) {
        if (key === "authorize") {
          return async () => {
            calls += 1;
            throw unreachableError();
          };
        }
        // A stub's methods are RPC properties (even `bind` would be sent to the object): call them on the stub.
        const value: unknown = Reflect.get(target, key);
        return typeof value === "function" ? (...args: unknown[]) => Reflect.apply(value, target, args) : value;
      },
    });
  const namespace = new Proxy(env.GRANT_OBJECT, {
    get(target, key) {
      if (key === "getByName") return (name: string) => stubFor(target.getByName(name));
      if (key === "get") return (id: DurableObjectId) => stubFor(target.get(id));
      const value: unknown = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { namespace, authorizeCalls: () => calls };
}

/** The grant's call records once it holds at least `atLeast` (written off the agent's path, batched). */
async function auditedCalls(grantId: string, atLeast: number): Promise<CallRecord[]> {
  const gw = gateway();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const response = await gw.fetch(`https://gateway.test/admin/api/grants/${grantId}/audit`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    const records = ((await response.json()) as { records: AuditRecord[] }).records.filter((record): record is CallRecord => record.kind === "call");
    if (records.length >= atLeast || Date.now() > deadline) return records;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sent = async (tag: string, tool = "send_campaign") => (await upstreamLog(tag)).filter((entry) => entry.body.includes(`"name":"${tool}"`)).length;

describe("rate limits: one Durable Object per grant counts exactly", () => {
  it("200 concurrent send_campaign calls against max 10: exactly 10 reach the upstream", async () => {
    const { agent } = await agentOn(SEND_CAMPAIGN_POLICY);
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => agent.call("send_campaign", { campaignId: i + 1 })));
    const forwarded = answers.filter((answer) => answer.result && !answer.result.isError);
    const refused = answers.filter((answer) => decisionOf(answer)?.decision === "rate_limited");
    expect(forwarded).toHaveLength(10);
    expect(refused).toHaveLength(190);
    expect(await sent(agent.tag)).toBe(10);
    expect(decisionOf(refused[0]!)).toMatchObject({ rule: "/tools/send_campaign/limits/0", retryAfter: expect.any(Number) });
    expect(refused[0]!.result!.content![0]!.text).toMatch(/limit "send_campaign_rate" allows 10 per 60 s.*Retry after \d+ s\./);
  });

  it("limits naming the same counter share one count across tools", async () => {
    const sends = { counter: "sends", window: "hour", max: 3 };
    const { agent } = await agentOn({ version: "1", default: "deny", tools: { send_email: { limits: [sends] }, send_sms: { limits: [sends] } } });
    const email = { recipientEmail: "a@example.com", campaignId: 1 };
    const sms = { recipientEmail: "a@example.com", campaignId: 2 };
    expect((await agent.call("send_email", email)).result?.isError).toBeFalsy();
    expect((await agent.call("send_sms", sms)).result?.isError).toBeFalsy();
    expect((await agent.call("send_email", email)).result?.isError).toBeFalsy();
    expect(decisionOf(await agent.call("send_sms", sms))).toMatchObject({ decision: "rate_limited" });
    expect(decisionOf(await agent.call("send_email", email))).toMatchObject({ decision: "rate_limited" });
  });

  it("increment_from counts the length of an array argument", async () => {
    const { agent } = await agentOn({
      version: "1",
      default: "deny",
      tools: { trigger_campaign: { limits: [{ counter: "lists", window: "day", max: 5, increment_from: "args.listIds" }] } },
    });
    expect((await agent.call("trigger_campaign", { campaignId: 1, listIds: [1, 2, 3] })).result?.isError).toBeFalsy();
    const refused = await agent.call("trigger_campaign", { campaignId: 1, listIds: [4, 5, 6] });
    expect(decisionOf(refused)).toMatchObject({ decision: "rate_limited" });
    expect(refused.result?.content?.[0]?.text).toContain("3 are used");
    expect((await agent.call("trigger_campaign", { campaignId: 1, listIds: [4, 5] })).result?.isError).toBeFalsy();
  });

  it("grant scope: two grants do not share a count; global scope: they do", async () => {
    const policy = await putPolicy({
      version: "1",
      default: "deny",
      tools: {
        get_campaigns: { limits: [{ counter: "reads", window: "minute", max: 2, scope: "grant" }] },
        get_lists: { limits: [{ counter: `shared-${crypto.randomUUID()}`, window: "minute", max: 2, scope: "global" }] },
      },
    });
    const [first, second] = await Promise.all([createGrant(policy), createGrant(policy)]);
    const a = await rawAgent(gateway(), first.token);
    const b = await rawAgent(gateway(), second.token);
    for (const agent of [a, b]) {
      expect((await agent.call("get_campaigns")).result?.isError).toBeFalsy();
      expect((await agent.call("get_campaigns")).result?.isError).toBeFalsy();
      expect(decisionOf(await agent.call("get_campaigns"))).toMatchObject({ decision: "rate_limited" });
    }
    expect((await a.call("get_lists")).result?.isError).toBeFalsy();
    expect((await b.call("get_lists")).result?.isError).toBeFalsy();
    expect(decisionOf(await a.call("get_lists"))).toMatchObject({ decision: "rate_limited" });
    expect(decisionOf(await b.call("get_lists"))).toMatchObject({ decision: "rate_limited" });
  });

  it("session scope: each session of a grant has its own count", async () => {
    const { token } = await createGrant(
      await putPolicy({ version: "1", default: "deny", tools: { get_campaigns: { limits: [{ counter: "per-session", window: "minute", max: 1, scope: "session" }] } } }),
    );
    const gw = gateway();
    const first = await rawAgent(gw, token);
    const second = await rawAgent(gw, token);
    expect((await first.call("get_campaigns")).result?.isError).toBeFalsy();
    expect(decisionOf(await first.call("get_campaigns"))).toMatchObject({ decision: "rate_limited" });
    expect((await second.call("get_campaigns")).result?.isError).toBeFalsy();
  });

  it("a timeout keeps the count: a send that may have happened stays counted", async () => {
    const { agent } = await agentOn(
      { ...SEND_CAMPAIGN_POLICY, tools: { send_campaign: { limits: [{ counter: "c", window: "minute", max: 1 }] } } },
      { UPSTREAM_TIMEOUT_MS: "500" },
    );
    await agent.rpc("tools/list", {}); // learn the tools at full speed
    const timedOut = await agent.call("send_campaign", { campaignId: 1 }, { "x-sandbox-delay-ms": "2000" });
    expect(timedOut).toMatchObject({ status: 200, error: { code: -32003, message: expect.stringContaining("did not answer within 500 ms") } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(decisionOf(await agent.call("send_campaign", { campaignId: 1 }))).toMatchObject({ decision: "rate_limited" });
    expect(await sent(agent.tag)).toBe(1);
  });

  it("the count survives eviction of the Durable Object", async () => {
    const { agent, grant } = await agentOn({ ...SEND_CAMPAIGN_POLICY, tools: { send_campaign: { limits: [{ counter: "c", window: "hour", max: 2 }] } } });
    expect((await agent.call("send_campaign", { campaignId: 1 })).result?.isError).toBeFalsy();
    expect((await agent.call("send_campaign", { campaignId: 2 })).result?.isError).toBeFalsy();
    await evictDurableObject(env.GRANT_OBJECT.getByName(grant.id));
    expect(decisionOf(await agent.call("send_campaign", { campaignId: 3 }))).toMatchObject({ decision: "rate_limited" });
  });

  it("monitor mode counts and logs but forwards every call", async () => {
    const { agent } = await agentOn({ ...SEND_CAMPAIGN_POLICY, mode: "monitor", tools: { send_campaign: { limits: [{ counter: "c", window: "minute", max: 2 }] } } });
    for (let i = 0; i < 4; i++) expect((await agent.call("send_campaign", { campaignId: i })).result?.isError).toBeFalsy();
    expect(await sent(agent.tag)).toBe(4);
  });

  it("calls without limits never touch the Durable Object", async () => {
    const { agent, grant } = await agentOn({ version: "1", default: "allow" });
    expect((await agent.call("get_campaigns")).result?.isError).toBeFalsy();
    const ids = await listDurableObjectIds(env.GRANT_OBJECT);
    expect(ids.map((id) => id.toString())).not.toContain(env.GRANT_OBJECT.idFromName(grant.id).toString());
  });

  it("a limiter that cannot be reached refuses the call (fail closed): its authorize RPC rejects as a Durable Object does", async () => {
    const policy = await putPolicy(SEND_CAMPAIGN_POLICY as never);
    const { token, record: grant } = await createGrant(policy);
    const unreachable = limiterUnreachable();
    const brokenAgent = await rawAgent(gateway({ GRANT_OBJECT: unreachable.namespace }), token);
    const answer = await brokenAgent.call("send_campaign", { campaignId: 1 });

    // The refusal came from the RPC the gateway makes, not from a method the stub lacks.
    expect(unreachable.authorizeCalls()).toBe(1);
    const reason = "the rate limiter could not be reached, so the call was not forwarded";
    const rule = "/tools/send_campaign/limits/0";
    expect(answer.result?.isError).toBe(true);
    expect(answer.result?.content?.[0]?.text).toBe(`Tool call send_campaign was refused: its rate limits could not be checked (rule ${rule} of policy "${policy}"): ${reason}.`);
    expect(decisionOf(answer)).toEqual({ decision: "limiter_unavailable", tool: "send_campaign", rule, reason, policy, policyVersion: expect.any(String) });
    expect(await sent(brokenAgent.tag)).toBe(0);
    const [record] = await auditedCalls(grant.id, 1);
    expect(record).toMatchObject({ tool: "send_campaign", decision: "limiter_unavailable", policyDecision: "limiter_unavailable", rule, reason, upstream: null });
  });
});

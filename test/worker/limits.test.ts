import { env } from "cloudflare:workers";
import { evictDurableObject, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
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

  it("a limiter that cannot be reached refuses the call (fail closed)", async () => {
    const broken = {
      ...env.GRANT_OBJECT,
      getByName: () => ({
        reserve: () => Promise.reject(new Error("Durable Object reset")),
        rollback: () => Promise.resolve(),
      }),
    };
    const { token } = await createGrant(await putPolicy(SEND_CAMPAIGN_POLICY as never));
    const brokenAgent = await rawAgent(gateway({ GRANT_OBJECT: broken }), token);
    const answer = await brokenAgent.call("send_campaign", { campaignId: 1 });
    expect(decisionOf(answer)).toMatchObject({ decision: "limiter_unavailable" });
    expect(await sent(brokenAgent.tag)).toBe(0);
  });
});

/**
 * The upstream through a service binding (wrangler.toml's UPSTREAM, bound
 * here to the sandbox by vitest.config.ts) instead of UPSTREAM_URL: the same
 * judging, relaying and answers for every id on failure.
 */
import { describe, expect, it } from "vitest";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, upstreamLog } from "./gateway.ts";

const POLICY = { version: "1", default: "allow", tools: { send_campaign: { limits: [{ counter: "sends", window: "minute", max: 1 }] } }, hide: ["delete_*"] };

describe("the upstream through the UPSTREAM service binding", () => {
  it("lists, filters, judges and relays as through UPSTREAM_URL; the agent's headers pass the same allow-list", async () => {
    const { token } = await createGrant(await putPolicy(POLICY as never));
    const gw = gateway({ UPSTREAM_URL: "" });
    const agent = await rawAgent(gw, token);
    const listed = await agent.rpc("tools/list", {});
    const names = (listed.result?.tools as Array<{ name: string }>).map((tool) => tool.name);
    expect(names).toContain("send_campaign");
    expect(names.some((name) => name.startsWith("delete_"))).toBe(false);
    expect((await agent.call("send_campaign", { campaignId: 1 }, { "x-not-forwarded": "1" })).result?.isError).toBeFalsy();
    expect(decisionOf(await agent.call("send_campaign", { campaignId: 2 }))).toMatchObject({ decision: "rate_limited" });
    const calls = (await upstreamLog(agent.tag)).filter((entry) => entry.body.includes('"tools/call"'));
    expect(calls).toHaveLength(1);
    expect(calls[0]!.headers).not.toHaveProperty("x-not-forwarded");
    expect(calls[0]!.headers).not.toHaveProperty("authorization");
  });

  it("a binding that fails gets the agent a JSON-RPC error for its id, and a limited call's count back", async () => {
    const { token } = await createGrant(await putPolicy(POLICY as never));
    let broken = false;
    const healthy = gateway({ UPSTREAM_URL: "" }).env.UPSTREAM;
    const gw = gateway({
      UPSTREAM_URL: "",
      UPSTREAM: { fetch: (input: RequestInfo | URL, init?: RequestInit) => (broken ? Promise.reject(new Error("binding down")) : healthy.fetch(input, init)) },
    });
    const agent = await rawAgent(gw, token);
    broken = true;
    const failed = await agent.call("send_campaign", { campaignId: 3 });
    expect(failed.status).toBe(200);
    expect(failed.error).toMatchObject({ code: -32003, message: expect.stringContaining("Upstream unreachable") });
    broken = false;
    // The upstream provably did not run it, so the one send a minute is still there.
    expect((await agent.call("send_campaign", { campaignId: 3 })).result?.isError).toBeFalsy();
  });
});

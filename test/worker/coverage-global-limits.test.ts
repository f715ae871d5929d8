/**
 * `scope: "global"` limits under concurrency across many grants (issue 21):
 * one shared Durable Object counts every grant's calls, so the count is exact
 * however the calls interleave, and a call refused by the global count gives
 * back what its grant's own count took.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GLOBAL_OBJECT } from "../../src/limits/limiter.ts";
import { createGrant, decisionOf, gateway, putPolicy, rawAgent, upstreamLog } from "./gateway.ts";

const GRANTS = 20;
const CALLS_PER_GRANT = 10;
const GLOBAL_MAX = 37;
const MINUTE = 60_000;
/** 200 calls through 20 sessions take about 15 s on a busy 2-core machine. */
const TIMEOUT_MS = 90_000;

const sent = async (tag: string) => (await upstreamLog(tag)).filter((entry) => entry.body.includes('"name":"get_lists"')).length;
const globalUsed = async (counter: string) => (await env.GRANT_OBJECT.getByName(GLOBAL_OBJECT).usage([{ counter, scopeKey: "global", windowMs: MINUTE, calendar: false }]))[0];
const grantUsed = async (grantId: string, counter: string) => (await env.GRANT_OBJECT.getByName(grantId).usage([{ counter, scopeKey: "grant", windowMs: MINUTE, calendar: false }]))[0];

/** `GRANTS` grants on one policy, each with its own gateway (isolate caches) and session, ready to call. */
async function agentsOn(policy: object) {
  const name = await putPolicy(policy);
  const grants = await Promise.all(Array.from({ length: GRANTS }, () => createGrant(name)));
  return Promise.all(grants.map(async ({ token, record }) => ({ grant: record, agent: await rawAgent(gateway(), token) })));
}

/** Every agent fires `CALLS_PER_GRANT` calls at once; all agents at once too. */
async function stampede(agents: Awaited<ReturnType<typeof agentsOn>>) {
  const answers = await Promise.all(agents.map(({ agent }) => Promise.all(Array.from({ length: CALLS_PER_GRANT }, () => agent.call("get_lists", {})))));
  return answers.map((mine) => ({
    allowed: mine.filter((answer) => answer.result !== undefined && !answer.result.isError).length,
    limited: mine.filter((answer) => decisionOf(answer)?.decision === "rate_limited").length,
  }));
}

describe("global limits across many grants, all at once", () => {
  it(`${GRANTS} grants × ${CALLS_PER_GRANT} concurrent calls against max ${GLOBAL_MAX}: exactly ${GLOBAL_MAX} allowed, and exactly ${GLOBAL_MAX} reach the upstream`, async () => {
    const counter = `global-${crypto.randomUUID()}`;
    const agents = await agentsOn({ version: "1", default: "deny", tools: { get_lists: { limits: [{ counter, window: "minute", max: GLOBAL_MAX, scope: "global" }] } } });
    const outcomes = await stampede(agents);
    expect(outcomes.reduce((sum, { allowed }) => sum + allowed, 0)).toBe(GLOBAL_MAX);
    expect(outcomes.reduce((sum, { limited }) => sum + limited, 0)).toBe(GRANTS * CALLS_PER_GRANT - GLOBAL_MAX);
    const reached = await Promise.all(agents.map(({ agent }) => sent(agent.tag)));
    expect(reached.reduce((sum, count) => sum + count, 0)).toBe(GLOBAL_MAX);
    expect(reached).toEqual(outcomes.map(({ allowed }) => allowed));
    expect(await globalUsed(counter)).toBe(GLOBAL_MAX);
  }, TIMEOUT_MS);

  it("with a grant limit too: the global count is exact, and each grant's own count is exactly its allowed calls (refusals by the global count are given back)", async () => {
    const counter = `global-${crypto.randomUUID()}`;
    const own = `own-${crypto.randomUUID()}`;
    // Grants could let 5 × 20 = 100 through, so the global count (37) must be what stops them.
    const agents = await agentsOn({
      version: "1",
      default: "deny",
      tools: { get_lists: { limits: [{ counter: own, window: "minute", max: 5, scope: "grant" }, { counter, window: "minute", max: GLOBAL_MAX, scope: "global" }] } },
    });
    const outcomes = await stampede(agents);
    expect(outcomes.reduce((sum, { allowed }) => sum + allowed, 0)).toBe(GLOBAL_MAX);
    expect(outcomes.every(({ allowed }) => allowed <= 5)).toBe(true);
    expect(await globalUsed(counter)).toBe(GLOBAL_MAX);
    const used = await Promise.all(agents.map(({ grant }) => grantUsed(grant.id, own)));
    expect(used).toEqual(outcomes.map(({ allowed }) => allowed));
    const reached = await Promise.all(agents.map(({ agent }) => sent(agent.tag)));
    expect(reached).toEqual(outcomes.map(({ allowed }) => allowed));
  }, TIMEOUT_MS);
});

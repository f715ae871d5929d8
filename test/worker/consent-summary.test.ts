/// <reference types="vite/client" />
/**
 * The OAuth consent page (issue 18, bug 5) for each shipped policy, through
 * the whole authorize flow in the Workers runtime: the heading names the app
 * once, every rule line and every tool list is the summary that
 * test/unit/policy-overview.test.ts checks against decide(), and limits read
 * as English.
 */
import { describe, expect, it } from "vitest";
import recommended from "../../policies/iterable/recommended.json" with { type: "json" };
import { policyOverview, TOOL_VERDICTS } from "../../src/oauth/policy-overview.ts";
import { PolicySchema } from "../../src/policy/schema.ts";
import { gateway, putPolicy } from "./gateway.ts";
import { authorizeUrl, Browser, decode, pkce, register } from "./oauth-flow.ts";
import { env } from "cloudflare:workers";

const EXAMPLES = import.meta.glob<object>("../../policies/examples/*.json", { eager: true, import: "default" });
const SHIPPED: Array<[string, object]> = [["iterable/recommended.json", recommended], ...Object.entries(EXAMPLES).map(([path, document]) => [path.replace(/^.*policies\//, ""), document] as [string, object])];
const CLIENT_NAME = "MCP CLI Proxy";

/** The consent page an operator reaches for a new grant on this policy, for an app named CLIENT_NAME. */
async function consentFor(policyName: string): Promise<string> {
  const gw = gateway();
  const client = await register(gw, { client_name: CLIENT_NAME });
  const { challenge } = await pkce();
  const browser = new Browser(gw);
  const start = await (await browser.fetch(authorizeUrl(client.client_id, challenge))).text();
  const choose = await (await browser.submit(start, "operator", { admin_token: env.ADMIN_TOKEN })).text();
  const consent = await browser.submit(choose, "policy", { policy: policyName, expires: "" });
  expect(consent.status).toBe(200);
  return consent.text();
}

const textOf = (html: string) => decode(html.replace(/<[^>]+>/g, "")).replace(/\s+/g, " ");

/** The tool lists of the page: each `<details>` summary title and the names under it. */
function toolLists(page: string): Map<string, string[]> {
  return new Map(
    [...page.matchAll(/<summary>([^<]*?) \((\d+)\)<\/summary><p class="mono">([^<]*)<\/p>/g)].map(([, title = "", , names = ""]) => [decode(title), names.split(", ")]),
  );
}

const LIST_TITLES = {
  allowed: "Allowed",
  approval: "Need a human's approval",
  conditional: "Allowed or refused by their arguments",
  refused: "Listed, but every call refused",
  hidden: "Hidden and refused",
} as const;

describe("the consent page says what each shipped policy does", () => {
  for (const [file, document] of SHIPPED) {
    it(`policies/${file}`, async () => {
      const name = await putPolicy(document);
      const page = await consentFor(name);
      const text = textOf(page);
      // Bug 5: the heading named the app twice ("… use this gateway as MCP CLI Proxy?"), the grant being labelled with its name.
      expect(textOf(/<h1>[\s\S]*?<\/h1>/.exec(page)![0]).trim()).toBe(`Allow ${CLIENT_NAME} to use this gateway?`);
      const overview = policyOverview(name, null, PolicySchema.parse(document));
      for (const rule of overview.rules) expect(text).toContain(`${rule.pattern}: ${rule.text}`);
      for (const limit of overview.allTools) expect(text).toContain(`Every call: ${limit}`);
      const lists = toolLists(page);
      for (const verdict of TOOL_VERDICTS) {
        const tools = overview.tools[verdict];
        expect(lists.get(LIST_TITLES[verdict]), verdict).toEqual(tools.length === 0 ? undefined : tools);
      }
      expect(text).not.toMatch(/\ba hour\b|\ban minute\b|\b1 calls\b/);
    });
  }

  it("bug 5: the starter policy's unconditional deny_if reads as always refused, never 'refused for some arguments'", async () => {
    const starter = SHIPPED.find(([file]) => file.endsWith("policylayer-starter.json"))![1];
    const text = textOf(await consentFor(await putPolicy(starter)));
    expect(text).toContain("send_campaign: listed, but every call is refused, saying “Requires human approval.”");
    expect(text).not.toContain("refused for some arguments");
    expect(text).toContain("1 listed but refused on every call");
  });

  it("bug 5: the recommended policy's limits read '20 calls an hour', not '20 a hour'", async () => {
    const text = textOf(await consentFor(await putPolicy(recommended)));
    expect(text).toContain("@sends: every call needs a human's approval; at most 20 calls an hour for this grant");
    expect(text).toContain("@writes: allowed; at most 100 calls an hour for this grant");
  });
});

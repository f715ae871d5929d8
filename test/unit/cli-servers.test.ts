/**
 * The CLI's server flags: `grant create --servers iterable,crm` (names, comma-separated) and
 * `audit --server NAME`, checked before anything is sent; how grant lines show the servers.
 */
import { describe, expect, it } from "vitest";
import { formatCreated, formatGrantList, serverList, type Grant } from "../../src/cli/grant-commands.ts";
import { formatPage } from "../../src/cli/audit-command.ts";
import { UsageError } from "../../src/cli/errors.ts";
import { OPTIONS, type Values } from "../../src/cli/usage.ts";
import type { AuditRecord } from "../../src/audit/record.ts";

// workerd has no node:util parseArgs: the options table is checked for the flags, and values are built as it gives them.
const values = (given: Partial<Values>) => ({ json: false, "via-kv": false, local: false, remote: false, help: false, args: "{}", tags: "", ...given }) as Values;

const GRANT: Grant = { id: "g_AAAAAAAAAAAA", label: "bot", policy: "recommended", createdAt: "2026-01-01T00:00:00.000Z", expiresAt: null, revoked: false, status: "active" };

describe("grant create --servers", () => {
  it("--servers was an unknown option: it takes a string, split into names", () => {
    expect(OPTIONS.servers).toEqual({ type: "string" });
    expect(serverList("iterable,crm")).toEqual(["iterable", "crm"]);
  });

  it("spaces around names are dropped and a repeated name counts once", () => {
    expect(serverList(" iterable , crm,iterable")).toEqual(["iterable", "crm"]);
  });

  it.each([
    ["an empty list", ""],
    ["an empty name between commas", "iterable,,crm"],
    ["an upper-case name", "Iterable"],
    ["a name with a slash", "iterable/x"],
    ["a name over 24 characters", "a".repeat(25)],
  ])("%s is a usage error", (_, text) => {
    expect(() => serverList(text)).toThrow(UsageError);
  });

  it("grant lines name the servers; a grant that names none reaches the default server", () => {
    expect(formatGrantList([{ ...GRANT, servers: ["iterable", "crm"] }])).toContain("servers=iterable,crm");
    expect(formatGrantList([GRANT])).toContain("servers=(default)");
    expect(formatCreated({ ...GRANT, servers: ["crm"] }, "mcpgw_x")).toContain("servers crm");
  });
});

describe("audit --server", () => {
  it("--server is an option, a record shows its server, and the next page's command keeps it", () => {
    expect(OPTIONS.server).toEqual({ type: "string" });
    const record = {
      kind: "call",
      id: "aud_1",
      time: "2026-01-01T00:00:00.000Z",
      requestId: 1,
      grant: { id: GRANT.id, label: "bot" },
      session: null,
      server: "crm",
      tool: "get_x",
      decision: "allow",
      policyDecision: "allow",
      rule: "/default",
      reason: null,
      policy: { name: "p", version: "1" },
      wouldRefuse: false,
      argumentKeys: [],
      argumentsHash: "0",
      approval: null,
      upstream: null,
      gatewayMs: 1,
    } satisfies AuditRecord;
    const page = formatPage([record], "CURSOR", values({ server: "crm" }));
    expect(page).toContain("crm/get_x");
    expect(page).toContain("--server crm --cursor CURSOR");
  });
});

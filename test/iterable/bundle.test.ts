import { describe, expect, inject, it } from "vitest";

/** The modules of the bundle these tests run, as wrangler built it for deployment (test/fake-iterable/global-setup.ts). */
const modules = inject("iterableBundleModules");

describe("the Iterable Worker's bundle", () => {
  it("holds one MCP SDK and one zod (npm overrides give @iterable/mcp the project's; an [alias] keeps zod's CommonJS build out)", () => {
    expect(modules.filter((path) => path.endsWith("@modelcontextprotocol/sdk/dist/esm/types.js"))).toEqual(["node_modules/@modelcontextprotocol/sdk/dist/esm/types.js"]);
    expect(modules.filter((path) => /node_modules\/.+\/node_modules\/(zod|@modelcontextprotocol\/sdk)\//.test(path))).toEqual([]);
    expect(modules.filter((path) => path.startsWith("node_modules/zod/") && !path.endsWith(".js"))).toEqual([]);
    expect(modules).toContain("node_modules/zod/v4/classic/schemas.js");
  });

  it("leaves out the package's Node-only modules: no server.js (signal listeners), no key manager or its config, no CLI", () => {
    const mcpModules = modules.filter((path) => path.startsWith("node_modules/@iterable/mcp/dist/"));
    for (const nodeOnly of ["server.js", "config.js", "key-manager.js", "shutdown.js", "index.js", "install.js", "keys-cli.js"]) {
      expect(mcpModules).not.toContain(`node_modules/@iterable/mcp/dist/${nodeOnly}`);
    }
    expect(modules.filter((path) => /@primno\/dpapi|inquirer|keytar/.test(path))).toEqual([]);
    expect(mcpModules).toContain("node_modules/@iterable/mcp/dist/tools/index.js");
  });

  it("has a console stand-in for winston, whose streams print debug lines in workerd (and were a quarter of the bundle)", () => {
    expect(modules).toContain("upstreams/iterable/src/build/console-logger.ts");
    expect(modules.filter((path) => /node_modules\/(winston|winston-transport|logform|readable-stream)\//.test(path))).toEqual([]);
  });

  it("serves @iterable/api's package.json from the bundle (its only file read), not from a disk the Worker does not have", () => {
    expect(modules).toContain("upstreams/iterable/src/build/node-fs.ts");
    expect(modules).toContain("node_modules/@iterable/api/package.json");
  });
});

#!/usr/bin/env node
// Snapshots the real Iterable MCP server's advertised surface into JSON files the
// sandbox upstream (test/upstream) serves, so the sandbox lists exactly what the
// real `@iterable/mcp` lists without running it (it needs an API key and stdio).
//
//   node scripts/generate-iterable.mjs
//
// Writes, deterministically (same order as the real server, 2-space JSON, trailing newline):
//   test/upstream/iterable-tools.json    every tool as `tools/list` returns it
//   test/upstream/iterable-prompts.json  the prompts as `prompts/list` returns them
//   test/upstream/iterable-flags.json    per tool: pii / writes / sends (input to the policy catalog)
//
// Only the package's own modules are imported. The tool handlers close over an API
// client, but they run only on `tools/call`, so a dummy client object suffices here.
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { generatePrompts } from "@iterable/mcp/dist/prompts.js";
import { filterTools, NON_PII_TOOLS, READ_ONLY_TOOLS, SEND_TOOLS } from "@iterable/mcp/dist/tool-filter.js";
import { createAllTools } from "@iterable/mcp/dist/tools/index.js";

const EXPECTED_TOOL_COUNT = 118;
const PACKAGE_NAME = "@iterable/mcp";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "test", "upstream");

// The version comes from the installed package, so a dependency bump shows up in the diff.
const require = createRequire(import.meta.url);
const packageJsonPath = join(dirname(require.resolve(`${PACKAGE_NAME}/dist/tools/index.js`)), "..", "..", "package.json");
const { version } = JSON.parse(await readFile(packageJsonPath, "utf8"));

// The real server answers `tools/list` with these objects serialised as JSON; the
// round trip drops the `handler` function exactly as the wire does.
const DUMMY_CLIENT = {};
const allTools = createAllTools(DUMMY_CLIENT);
if (allTools.length === 0) throw new Error(`${PACKAGE_NAME}@${version} built no tools`);
if (allTools.length !== EXPECTED_TOOL_COUNT) console.log(`note: ${PACKAGE_NAME}@${version} has ${allTools.length} tools (1.9.0 had ${EXPECTED_TOOL_COUNT})`);
// Every field the wire carries (a later version may add title, annotations, outputSchema).
const tools = allTools.map(wire);

// Same construction as IterableMcpServer.run(): prompts come from the read-only,
// no-send subset. PII is allowed so the snapshot matches a PII-enabled deployment.
const promptTools = filterTools(allTools, { allowUserPii: true, allowWrites: false, allowSends: false });
const prompts = generatePrompts(promptTools).map(wire);

const flags = allTools.map(({ name }) => ({
  name,
  pii: !NON_PII_TOOLS.has(name),
  writes: !READ_ONLY_TOOLS.has(name),
  sends: SEND_TOOLS.has(name),
}));

await writeJson("iterable-tools.json", { package: PACKAGE_NAME, version, tools });
await writeJson("iterable-prompts.json", { package: PACKAGE_NAME, version, prompts });
await writeJson("iterable-flags.json", { package: PACKAGE_NAME, version, tools: flags });

console.log(`${PACKAGE_NAME}@${version}: ${tools.length} tools, ${prompts.length} prompts written to test/upstream/`);

/** What a JSON-RPC peer receives: functions and undefined members vanish. */
function wire(value) {
  return JSON.parse(JSON.stringify(value));
}

async function writeJson(fileName, value) {
  await writeFile(join(outDir, fileName), `${JSON.stringify(value, null, 2)}\n`);
}

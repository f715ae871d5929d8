// Moves @iterable/mcp to a new version and says what changed for the gateway:
//
//   npm run iterable:update                 the latest version
//   npm run iterable:update -- 1.10.0       that version
//
// It installs the version (pinned exactly), regenerates the tool snapshot
// (test/upstream/iterable-*.json), the pinned definitions (policies/iterable/pins.json:
// a deployment's pins move only when an operator accepts each change, README "Tool pinning")
// and the catalog (policies/iterable/catalog.json;
// a tool new in this version is written unclassified, so the recommended policy
// refuses it until someone classifies it), and prints which tools were added,
// removed or changed: name, title, description, input and output schema,
// annotations. Review the diff, classify the new tools, run npm test, commit.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./local-gateway.ts";

type Tool = { name: string; [field: string]: unknown };
type Snapshot = { version: string; tools: Tool[] };

const SNAPSHOT = join(ROOT, "test/upstream/iterable-tools.json");
const FIELDS = ["title", "description", "inputSchema", "outputSchema", "annotations"] as const;

const target = process.argv[2] ?? "latest";
if (!/^(latest|\d+\.\d+\.\d+(-[\w.]+)?)$/.test(target)) {
  console.error(`usage: npm run iterable:update [-- <version>]   (a version like 1.10.0, or latest; not "${target}")`);
  process.exit(2);
}

const before = readSnapshot();
run("npm", ["install", "--save-exact", `@iterable/mcp@${target}`]);
run("node", ["scripts/generate-iterable.mjs"]);
run("node", ["scripts/generate-catalog.mjs"]);
run("node", ["scripts/generate-pins.mjs"]);
const after = readSnapshot();

console.log(`\n@iterable/mcp ${before.version} → ${after.version}`);
const was = new Map(before.tools.map((tool) => [tool.name, tool]));
const now = new Map(after.tools.map((tool) => [tool.name, tool]));
const added = [...now.keys()].filter((name) => !was.has(name));
const removed = [...was.keys()].filter((name) => !now.has(name));
const changed = [...now.keys()].flatMap((name) => {
  const old = was.get(name);
  if (!old) return [];
  const fields = FIELDS.filter((field) => JSON.stringify(old[field]) !== JSON.stringify(now.get(name)?.[field]));
  return fields.length > 0 ? [{ name, fields }] : [];
});
if (added.length + removed.length + changed.length === 0) console.log("no tool was added, removed or changed");
for (const name of added) console.log(`added    ${name}  (unclassified: refused by tag-based policies until classified)`);
for (const name of removed) console.log(`removed  ${name}  (policies naming it now name nothing)`);
for (const { name, fields } of changed) console.log(`changed  ${name}  (${fields.join(", ")})`);
if (added.length > 0) console.log(`\nclassify the new tools once reviewed: node scripts/generate-catalog.mjs --classify ${added.join(",")}`);
if (changed.length + added.length > 0) {
  console.log(`\npolicies/iterable/pins.json now pins the new definitions; a running deployment keeps its own pins:`);
  console.log("after deploying, review and accept each change (console Tools page, or mcp-gateway tools changes / tools accept NAME)");
}
console.log("then: npm test, and review git diff before committing");

function readSnapshot(): Snapshot {
  return JSON.parse(readFileSync(SNAPSHOT, "utf8")) as Snapshot;
}

function run(command: string, args: string[]): void {
  console.log(`$ ${command} ${args.join(" ")}`);
  execFileSync(command, args, { cwd: ROOT, stdio: "inherit" });
}

#!/usr/bin/env node
// `prestart`: stops `npm start` on a Node.js that is too old, with a message that
// says what to install. Without it, Node < 22.18 dies on scripts/start.ts with a
// bare ERR_UNKNOWN_FILE_EXTENSION ".ts" (it cannot strip TypeScript types).
//
// Plain JavaScript for any Node >= 14 on purpose: it must run on exactly the old
// versions it rejects. No dependencies, no syntax newer than Node 14, and bare
// "fs"/"url" imports because "node:" ones in ESM need Node 14.13.1.
import { existsSync, readFileSync } from "fs";
import { fileURLToPath } from "url";

const packageJson = fileURLToPath(new URL("../package.json", import.meta.url));
const nvmrc = fileURLToPath(new URL("../.nvmrc", import.meta.url));

const range = readEngineRange();
const needed = parseMinimum(range);
// A range this script cannot read is not a reason to block the start:
// package.json is the source of truth, and Node itself will complain if needed.
if (needed && compare(parseVersion(process.versions.node), needed) < 0) {
  process.stderr.write(tooOldMessage(range));
  process.exit(1);
}

/** The `engines.node` field of package.json, e.g. ">=22.18". */
function readEngineRange() {
  const pkg = JSON.parse(readFileSync(packageJson, "utf8"));
  return (pkg.engines && pkg.engines.node) || "";
}

/** [major, minor, patch] from the simple form ">=22.18" (or ">=22", ">=22.18.0"); null for anything else. */
function parseMinimum(range) {
  const match = /^\s*>=\s*v?(\d+(?:\.\d+){0,2})\s*$/.exec(range);
  return match ? parseVersion(match[1]) : null;
}

function parseVersion(version) {
  const parts = version.split(".").map(Number);
  return [parts[0] || 0, parts[1] || 0, parts[2] || 0];
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function tooOldMessage(range) {
  const minimum = range.replace(/^\s*>=\s*v?/, "").trim();
  const lines = [
    "",
    `mcp-policy-gateway needs Node.js ${minimum} or newer (package.json "engines": "${range}"),`,
    `but this is Node.js ${process.versions.node} (${process.execPath}).`,
    "`npm start` runs TypeScript files directly, which older Node.js versions cannot do.",
    "",
    "Get a newer Node.js, then run `npm start` again:",
    existsSync(nvmrc)
      ? `  with nvm:      nvm install && nvm use      (reads .nvmrc: ${readFileSync(nvmrc, "utf8").trim()})`
      : `  with nvm:      nvm install ${minimum.split(".")[0]} && nvm use ${minimum.split(".")[0]}`,
  ];
  const npmPackage = nodePackageForThisMachine();
  if (npmPackage) {
    // The same recipe as .ci/run: a Node binary from the npm registry, no root needed.
    const major = minimum.split(".")[0];
    lines.push(
      `  without nvm:   npm install --prefix "$HOME/.cache/node${major}" --no-save ${npmPackage}@${major}`,
      `                 export PATH="$HOME/.cache/node${major}/node_modules/${npmPackage}/bin:$PATH"`,
    );
  }
  lines.push("  or download it from https://nodejs.org/", "");
  return lines.join("\n") + "\n";
}

/** The npm package that ships a Node binary for this machine, where one is known to exist. */
function nodePackageForThisMachine() {
  if (process.platform !== "linux") return null;
  return process.arch === "x64" || process.arch === "arm64" ? `node-linux-${process.arch}` : null;
}

// Deploys both Workers to your Cloudflare account, in order, and says what it did:
//
//   npx wrangler login                  once
//   npm run deploy
//
// 1. the Iterable MCP server Worker (upstreams/iterable/wrangler.toml): no public route;
//    it needs its secret ITERABLE_API_KEY, which only it ever holds;
// 2. the gateway (wrangler.toml), bound to it as UPSTREAM; it needs SESSION_SECRET,
//    and ADMIN_TOKEN for the console and the admin API.
// A missing secret stops the run with the command that puts it (a secret is set once;
// it survives later deploys). `npm run deploy:check` is the same without uploading.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./local-gateway.ts";

type Step = { worker: string; config: string; secrets: Array<{ name: string; required: boolean; how: string }> };

const STEPS: Step[] = [
  {
    worker: "iterable-mcp",
    config: "upstreams/iterable/wrangler.toml",
    secrets: [{ name: "ITERABLE_API_KEY", required: true, how: "your Iterable API key (Integrations → API keys; a server-side key)" }],
  },
  {
    worker: "mcp-policy-gateway",
    config: "wrangler.toml",
    secrets: [
      { name: "SESSION_SECRET", required: true, how: "32+ random characters: openssl rand -base64 32" },
      { name: "ADMIN_TOKEN", required: false, how: "32+ random characters (opens /admin): openssl rand -base64 32" },
    ],
  },
];

function wrangler(args: string[], capture = false): { ok: boolean; output: string } {
  const result = spawnSync(process.execPath, [join(ROOT, "node_modules/wrangler/bin/wrangler.js"), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: capture ? "pipe" : "inherit",
  });
  return { ok: result.status === 0, output: capture ? `${result.stdout}${result.stderr}` : "" };
}

for (const step of STEPS) {
  console.log(`\n── ${step.worker} (${step.config})`);
  if (!wrangler(["deploy", "-c", step.config]).ok) {
    console.error(`${step.worker} was not deployed (see above); nothing after it was either.`);
    process.exit(1);
  }
  const listed = wrangler(["secret", "list", "-c", step.config, "--format", "json"], true);
  const present = new Set(listed.ok ? (JSON.parse(listed.output.slice(listed.output.indexOf("["))) as Array<{ name: string }>).map((secret) => secret.name) : []);
  const missing = step.secrets.filter((secret) => !present.has(secret.name));
  for (const secret of missing) {
    console.log(`${secret.required ? "missing" : "not set"}: ${secret.name}, ${secret.how}\n  npx wrangler secret put ${secret.name} -c ${step.config}`);
  }
  if (missing.some((secret) => secret.required)) {
    console.error(`\n${step.worker} is deployed but cannot work without the secret above: put it, then run npm run deploy again.`);
    process.exit(1);
  }
  console.log(`${step.worker}: deployed, secrets in place (${step.secrets.filter((secret) => present.has(secret.name)).map((secret) => secret.name).join(", ")})`);
}
console.log("\nDone. Point clients at https://mcp-policy-gateway.<your subdomain>.workers.dev/mcp (README: Point a client at it).");

/**
 * Runs the fake Iterable API on its own, e.g. for `npm start`:
 *
 *   node test/fake-iterable/main.ts [--port 8789] [--api-key <key>]
 *
 * The key defaults to FAKE_ITERABLE_API_KEY, else a fixed development key;
 * the Iterable Worker must be given the same one as ITERABLE_API_KEY. Prints
 * its URL, then one line per request (method, path, whether the key was
 * right, the tool and client named in the Iterable-MCP-* headers). Stops on
 * SIGINT or SIGTERM.
 */
import { parseArgs } from "node:util";
import { DEFAULT_DEV_API_KEY, startFakeIterable } from "./server.ts";

const { values } = parseArgs({
  options: { port: { type: "string", default: "8789" }, "api-key": { type: "string" } },
});
const apiKey = values["api-key"] ?? process.env.FAKE_ITERABLE_API_KEY ?? DEFAULT_DEV_API_KEY;

const fake = await startFakeIterable({
  apiKey,
  port: Number(values.port),
  onRequest: (logged) => {
    const who = [logged.tool && `tool=${logged.tool}`, logged.client && `client=${logged.client}`].filter(Boolean).join(" ");
    const query = new URLSearchParams(Object.entries(logged.query).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((each) => [name, each]))).toString();
    console.log(`[fake-iterable] ${logged.method} ${logged.path}${query ? `?${query}` : ""} -> ${logged.status} key=${logged.keyValid ? "ok" : "WRONG"} ${who}`.trimEnd());
  },
});
console.log(`[fake-iterable] Iterable API stand-in on ${fake.url} (requests: ${fake.url}__fake/requests)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void fake.close().then(() => process.exit(0)));
}

/**
 * In-process micro-benchmarks of the gateway's hot-path functions, in Node
 * (V8, as workerd; no runtime around them): the policy decision, the tool-list
 * filter and canonical argument hashing. Each is run in batches of at least
 * BATCH_MS after a warm-up; the median batch is reported.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toolListRewriter } from "../src/calls/tool-list.ts";
import { canonicalHash, canonicalJson } from "../src/canonical.ts";
import { decide, isListed, type ToolCall } from "../src/policy/evaluate.ts";
import { validatePolicy } from "../src/policy/validate.ts";
import { toolTags } from "../src/tools/catalog.ts";
import { annotationsOf, ToolIndex, type ListedTool, type ToolInfo } from "../src/tools/tool-index.ts";
import { ROOT } from "./local-gateway.ts";

const BATCH_MS = 150;
const BATCHES = 5;

export type MicroResult = { name: string; detail: string; nsPerOp: number; ops: number; targetNs?: number };

/** Typical arguments an agent sends, by tool; every other tool is called with `{}`. */
export const TYPICAL_ARGS: Record<string, Record<string, unknown>> = {
  get_campaigns: { page: 1, pageSize: 20, sort: { field: "updatedAt", direction: "desc" } },
  send_campaign: { campaignId: 1_234_567 },
  trigger_campaign: {
    campaignId: 1_234_567,
    listIds: [101_101, 202_202, 303_303],
    dataFields: { promo: "SPRING24", discountPercent: 15, locale: "en-US", expiresAt: "2026-06-30T23:59:59Z" },
    suppressionListIds: [999_001],
    allowRepeatMarketingSends: false,
  },
};

export async function runMicroBenchmarks(): Promise<MicroResult[]> {
  const tools = (JSON.parse(readFileSync(join(ROOT, "test/upstream/iterable-tools.json"), "utf8")) as { tools: ListedTool[] }).tools;
  const validated = validatePolicy(JSON.parse(readFileSync(join(ROOT, "policies/iterable/recommended.json"), "utf8")));
  if (!validated.ok) throw new Error(`recommended policy invalid: ${validated.problems.join("; ")}`);
  const policy = validated.policy;

  // As the gateway judges a call: tags from the tool index (catalog + annotations), computed once per tool.
  const callOf = (name: string): ToolCall => {
    const tool = tools.find((each) => each.name === name);
    return { name, args: TYPICAL_ARGS[name] ?? {}, tags: toolTags(name, tool ? annotationsOf(tool) : undefined) };
  };
  const mix = [...tools.map((tool) => callOf(tool.name)), callOf("not_an_iterable_tool")];
  const kinds = new Map<string, number>();
  for (const call of mix) {
    const kind = decide(policy, call).decision;
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const mixDetail = [...kinds].map(([kind, count]) => `${count} ${kind}`).join(", ");

  const results: MicroResult[] = [];
  let sink = 0;
  const decideRow = (label: string, calls: ToolCall[]) => {
    const expected = decide(policy, calls[0]!).decision;
    let i = 0;
    const measured = measure(() => {
      const decision = decide(policy, calls[i++ % calls.length]!);
      sink += decision.rule.length;
    });
    results.push({ name: `decide() ${label}`, detail: calls.length > 1 ? mixDetail : expected, ...measured, targetNs: 10_000 });
  };
  decideRow(`mix: ${tools.length} tools + 1 unknown`, mix);
  decideRow("get_campaigns (@read)", [callOf("get_campaigns")]);
  decideRow("create_list (@writes, limit)", [callOf("create_list")]);
  decideRow("trigger_campaign (@sends)", [callOf("trigger_campaign")]);
  decideRow("delete_catalog (hidden)", [callOf("delete_catalog")]);

  // The gateway's tools/list rewrite (src/mcp/routes.ts toolListFilter): parse, index, filter, serialise.
  const answer = JSON.stringify({ result: { tools }, jsonrpc: "2.0", id: 7 });
  const index = new ToolIndex(30_000);
  const visible = (tool: ToolInfo) => isListed(policy, tool.name, tool.tags);
  const rewrite = toolListRewriter({ requestId: 7, isFirstPage: true }, visible, index);
  const listed = (JSON.parse(rewrite(answer)?.text ?? "{}") as { result?: { tools?: unknown[] } }).result?.tools?.length ?? 0;
  results.push({
    name: `tool-list filter, ${tools.length} tools`,
    detail: `${(answer.length / 1024).toFixed(0)} KiB in, ${listed} listed`,
    ...measure(() => {
      sink += rewrite(answer)?.text?.length ?? 0;
    }),
  });

  // The same answer again for the same view (another agent's list, or this one's next): the filtered text is reused.
  const reusing = toolListRewriter({ requestId: 7, isFirstPage: true }, visible, new ToolIndex(30_000), undefined, "bench-view");
  results.push({
    name: `tool-list filter, ${tools.length} tools, seen before`,
    detail: "the same answer for the same view, reused",
    ...measure(() => {
      sink += reusing(answer)?.text?.length ?? 0;
    }),
  });

  results.push({
    name: "canonicalJson(trigger_campaign args)",
    detail: "the text alone, no SHA-256",
    ...measure(() => {
      sink += canonicalJson(TYPICAL_ARGS.trigger_campaign).length;
    }),
  });
  for (const name of ["send_campaign", "trigger_campaign"]) {
    const args = TYPICAL_ARGS[name]!;
    results.push({
      name: `canonicalHash(${name} args)`,
      detail: `${JSON.stringify(args).length} B of JSON`,
      ...(await measureAsync(async () => {
        sink += (await canonicalHash(args)).length;
      })),
    });
  }
  if (sink === 42) console.error("(sink)");
  return results;
}

/** Median ns per call over BATCHES batches of at least BATCH_MS each, after one warm-up batch. */
function measure(op: () => void): { nsPerOp: number; ops: number } {
  let perBatch = 1;
  // Warm-up, and find an iteration count that fills a batch.
  for (let started = performance.now(); performance.now() - started < BATCH_MS; ) {
    for (let i = 0; i < perBatch; i++) op();
    perBatch *= 2;
  }
  const samples: number[] = [];
  let ops = 0;
  for (let batch = 0; batch < BATCHES; batch++) {
    const started = performance.now();
    for (let i = 0; i < perBatch; i++) op();
    samples.push(((performance.now() - started) * 1e6) / perBatch);
    ops += perBatch;
  }
  return { nsPerOp: median(samples), ops };
}

async function measureAsync(op: () => Promise<void>): Promise<{ nsPerOp: number; ops: number }> {
  let perBatch = 1;
  for (let started = performance.now(); performance.now() - started < BATCH_MS; ) {
    for (let i = 0; i < perBatch; i++) await op();
    perBatch *= 2;
  }
  const samples: number[] = [];
  let ops = 0;
  for (let batch = 0; batch < BATCHES; batch++) {
    const started = performance.now();
    for (let i = 0; i < perBatch; i++) await op();
    samples.push(((performance.now() - started) * 1e6) / perBatch);
    ops += perBatch;
  }
  return { nsPerOp: median(samples), ops };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Timing one operation against several targets, and what makes a benchmark run fail.
 * Pure (no Node APIs), so a unit test drives the same code the benchmark runs.
 */

/** One operation against one target; throws when the answer is not the expected one. */
export type Op = () => Promise<void>;

/** The phases an operation runs in: each error is counted under its phase, none is ever reset. */
export type Phase = "warm-up" | "samples" | "throughput";

export type ErrorCount = { byPhase: Record<Phase, number>; first?: string };

export function errorCount(): ErrorCount {
  return { byPhase: { "warm-up": 0, samples: 0, throughput: 0 } };
}

export function totalErrors(errors: ErrorCount): number {
  return errors.byPhase["warm-up"] + errors.byPhase.samples + errors.byPhase.throughput;
}

/** Runs `op` once: its time in ms, or undefined when it threw (counted under `phase`). */
export async function attempt(op: Op, errors: ErrorCount, phase: Phase): Promise<number | undefined> {
  const started = performance.now();
  try {
    await op();
    return performance.now() - started;
  } catch (error) {
    errors.byPhase[phase]++;
    errors.first ??= `${phase}: ${String(error).slice(0, 300)}`;
    return undefined;
  }
}

/**
 * `warmUp` untimed runs of each target's op, then `samples` rounds with the targets interleaved
 * (A B C A B C …): each target's latencies, and every error of both phases.
 */
export async function interleaved<K extends string>(
  ops: Record<K, Op>,
  counts: { warmUp: number; samples: number },
  after?: () => Promise<void>,
): Promise<Record<K, { latencies: number[]; errors: ErrorCount }>> {
  const keys = Object.keys(ops) as K[];
  const result = Object.fromEntries(keys.map((key) => [key, { latencies: [] as number[], errors: errorCount() }])) as Record<K, { latencies: number[]; errors: ErrorCount }>;
  for (const key of keys) for (let i = 0; i < counts.warmUp; i++) await attempt(ops[key], result[key].errors, "warm-up");
  await after?.();
  for (let i = 0; i < counts.samples; i++) {
    for (const key of keys) {
      const took = await attempt(ops[key], result[key].errors, "samples");
      if (took !== undefined) result[key].latencies.push(took);
    }
    await after?.();
  }
  return result;
}

/**
 * Why the run fails, one line per target that saw an error in any phase (warm-up included: an
 * error there is a target that does not answer as the benchmark expects). Empty when it passes.
 */
export function failures(targets: { label: string; errors: ErrorCount }[]): string[] {
  return targets.flatMap(({ label, errors }) => {
    const total = totalErrors(errors);
    if (total === 0) return [];
    const phases = (Object.entries(errors.byPhase) as [Phase, number][]).filter(([, count]) => count > 0).map(([phase, count]) => `${count} in ${phase}`);
    return [`${label}: ${total} error${total === 1 ? "" : "s"} (${phases.join(", ")}); first: ${errors.first ?? "?"}`];
  });
}

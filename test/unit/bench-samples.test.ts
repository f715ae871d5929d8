import { describe, expect, it } from "vitest";
import { failures, interleaved, type Op } from "../../scripts/bench/samples.ts";

/** An op that throws on its first `failing` calls, then answers. */
function failingFirst(failing: number): Op & { calls: () => number } {
  let calls = 0;
  const op = async () => {
    calls++;
    if (calls <= failing) throw new Error(`call ${calls} failed`);
  };
  return Object.assign(op, { calls: () => calls });
}

describe("bench: warm-up errors fail the run", () => {
  it("counts errors of the warm-up (not reset before the samples), and the pass/fail decision sees them", async () => {
    const flaky = failingFirst(3);
    const result = await interleaved({ floor: failingFirst(0), gateway: flaky }, { warmUp: 5, samples: 4 });
    expect(flaky.calls()).toBe(9);
    // All timed samples succeeded: only the warm-up failed.
    expect(result.gateway.latencies).toHaveLength(4);
    expect(result.gateway.errors.byPhase).toEqual({ "warm-up": 3, samples: 0, throughput: 0 });
    const failed = failures([
      { label: "floor", errors: result.floor.errors },
      { label: "gateway", errors: result.gateway.errors },
    ]);
    expect(failed).toEqual(["gateway: 3 errors (3 in warm-up); first: warm-up: Error: call 1 failed"]);
  });

  it("fails on an error among the timed samples, which are then left out of the latencies", async () => {
    const result = await interleaved({ gateway: failingFirst(2) }, { warmUp: 1, samples: 3 });
    expect(result.gateway.latencies).toHaveLength(2);
    expect(failures([{ label: "gateway", errors: result.gateway.errors }])).toEqual(["gateway: 2 errors (1 in warm-up, 1 in samples); first: warm-up: Error: call 1 failed"]);
  });

  it("passes a run without errors, and interleaves the targets round by round", async () => {
    const order: string[] = [];
    const op = (name: string): Op => async () => void order.push(name);
    const result = await interleaved({ A: op("A"), B: op("B") }, { warmUp: 1, samples: 2 });
    expect(order).toEqual(["A", "B", "A", "B", "A", "B"]);
    expect(failures([{ label: "A", errors: result.A.errors }, { label: "B", errors: result.B.errors }])).toEqual([]);
  });
});

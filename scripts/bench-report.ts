/** Statistics and plain-text tables for `npm run bench`. */

/** Nearest-rank percentile of unsorted samples (q in 0…1); NaN when there are none. */
export function percentile(samples: number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function median(samples: number[]): number {
  return percentile(samples, 0.5);
}

/** "12.34" (ms), "-" when unknown. */
export function ms(value: number | undefined, digits = 2): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits);
}

/** A difference, signed: "+0.42". */
export function signed(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return "-";
  return `${value >= 0 ? "+" : "-"}${Math.abs(value).toFixed(digits)}`;
}

/** ns per operation in the unit that reads best: "850 ns", "12.3 µs", "1.25 ms". */
export function perOp(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(0)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

/** "met" / "NOT met", with the goal it was held to. */
export function verdict(ok: boolean, goal: string): string {
  return `${ok ? "met" : "NOT met"} (${goal})`;
}

/** Left-aligned columns, a rule under the header; numeric-looking cells right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  const numeric = (cell: string) => /^[+-]?[\d.,]+( ?(ms|µs|ns|%|MiB|\/s))?$/.test(cell);
  const lines = rows.map((row, index) =>
    row
      .map((cell = "", column) => (index > 0 && numeric(cell) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((width) => "-".repeat(width)).join("  "));
  return lines.join("\n");
}

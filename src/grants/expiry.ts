/** `90m`, `12h`, `30d`: as `mcp-gateway grant create --expires` takes it. */
export const EXPIRY_PATTERN = /^([1-9]\d{0,5})([mhd])$/;


const EXPIRY_UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Ten years: anything longer is a typo. */
const MAX_EXPIRY_MS = 3650 * 86_400_000;

/** `30d` → the time 30 days from now, as `mcp-gateway grant create --expires` reads it. */
export function expiryFrom(text: string, now = Date.now()): Date | undefined {
  const match = EXPIRY_PATTERN.exec(text);
  if (!match) return undefined;
  const ms = Number(match[1]) * (EXPIRY_UNIT_MS[match[2] ?? "d"] ?? 0);
  return ms > 0 && ms <= MAX_EXPIRY_MS ? new Date(now + ms) : undefined;
}

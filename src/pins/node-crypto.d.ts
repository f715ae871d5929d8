// The one part of node:crypto the Worker uses (nodejs_compat provides it): a
// synchronous SHA-256, which Web Crypto does not offer.
declare module "node:crypto" {
  export function createHash(algorithm: "sha256"): { update(data: string): { digest(encoding: "hex"): string } };
}

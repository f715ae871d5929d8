import { fileURLToPath } from "node:url";

/**
 * Where `npm start` leaves what local tools need to reach it: the admin URL
 * and the admin token of the running gateway (written at each start, mode 0600).
 * `mcp-gateway approvals …` reads it when given no --url.
 */
export const DEV_ADMIN_FILE = fileURLToPath(new URL("../../.wrangler/dev-admin.json", import.meta.url));

export type DevAdmin = { url: string; token: string };

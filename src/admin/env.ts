import type { Bindings } from "../env.ts";

/** The admin door's Hono environment: the Worker's bindings, and the admin token it was opened with. */
export type AdminEnv = {
  Bindings: Bindings;
  Variables: {
    /** The configured ADMIN_TOKEN (admin routes exist only when it is set). */
    adminToken: string;
  };
};

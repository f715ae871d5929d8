/** A setting of the Worker is missing or invalid; the message names it, never its value. Apart from config.ts, which loads zod, so the global scope can know it. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

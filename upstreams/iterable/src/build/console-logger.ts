/**
 * `winston` as the Iterable Worker's bundle sees it (wrangler.toml [alias]).
 *
 * `@iterable/api` builds its logger with winston when it loads. In workerd,
 * winston's streams (readable-stream) report through `util.debuglog`, which
 * workerd always enables, so building that logger would print a dozen
 * "STREAM: …" lines on every isolate's first request; and winston with its
 * streams and formats is a quarter of the bundle. Nothing in this Worker
 * writes to that logger: the package's modules that do (server.js,
 * config.js) are not loaded, and the API client logs only in debug mode,
 * which the Worker never turns on. So this stands in with the part of
 * winston's API `@iterable/api` calls (createLogger, format, transports,
 * config.npm.levels): formats and transports are accepted and ignored, and an
 * entry at or above the logger's level becomes one JSON line on stderr, as
 * the package's own structured format would write it.
 */

const LEVELS = { error: 0, warn: 1, info: 2, http: 3, verbose: 4, debug: 5, silly: 6 } as const;
type Level = keyof typeof LEVELS;

/** A winston format: accepted, never applied (entries are always JSON). */
type Format = { ignored: true };
const IGNORED: Format = { ignored: true };

export const config = { npm: { levels: LEVELS } };

export const format = {
  printf: (_template: unknown): Format => IGNORED,
  combine: (..._formats: Format[]): Format => IGNORED,
  timestamp: (_options?: unknown): Format => IGNORED,
  errors: (_options?: unknown): Format => IGNORED,
  splat: (): Format => IGNORED,
  simple: (): Format => IGNORED,
  json: (): Format => IGNORED,
};

/** A transport's options are kept for inspection only: every entry goes to the console. */
class Transport {
  readonly options: unknown;
  constructor(options: unknown = {}) {
    this.options = options;
  }
}

export const transports = { Console: Transport, File: Transport };

type Write = (message: unknown, meta?: Record<string, unknown>) => Logger;
export type Logger = Record<Level, Write> & { level: string; log(level: Level, message: unknown, meta?: Record<string, unknown>): Logger };

export function createLogger(options: { level?: string } = {}): Logger {
  const level = options.level ?? "info";
  const threshold = Object.hasOwn(LEVELS, level) ? LEVELS[level as Level] : LEVELS.info;
  const write =
    (entryLevel: Level): Write =>
    (message, meta = {}) => {
      if (LEVELS[entryLevel] <= threshold) {
        console.error(JSON.stringify({ timestamp: new Date().toISOString(), level: entryLevel, message: String(message), ...meta }));
      }
      return logger;
    };
  const logger: Logger = {
    level,
    error: write("error"),
    warn: write("warn"),
    info: write("info"),
    http: write("http"),
    verbose: write("verbose"),
    debug: write("debug"),
    silly: write("silly"),
    log: (entryLevel, message, meta) => write(entryLevel)(message, meta),
  };
  return logger;
}

export default { config, format, transports, createLogger };

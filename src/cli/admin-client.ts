import { userInfo } from "node:os";
import { z } from "zod";
import { ADMIN_TOKEN_ENV, HOW_TO_REACH, type AdminTarget } from "./admin-target.ts";
import { CliError } from "./errors.ts";
import { instanceFile } from "./local-instances.ts";
import { parseJson, printable, shortPath } from "./text.ts";

/**
 * The CLI's one way to the gateway: a request to its admin API, which
 * validates and audits every operator action. Every failure becomes an
 * AdminApiError whose message says what to do about it; a command that can
 * say more (which approval, which grant) reads its status and answer.
 */

const REQUEST_TIMEOUT_MS = 30_000;

/** What the admin API answers when it refuses: its reason, and whatever it adds (problems, the approval as it stands). */
const ErrorAnswerSchema = z.looseObject({ error: z.string(), message: z.string().optional(), problems: z.array(z.string()).optional() });
export type ErrorAnswer = z.infer<typeof ErrorAnswerSchema>;

export class AdminApiError extends CliError {
  readonly status: number;
  readonly answer: ErrorAnswer | undefined;

  constructor(message: string, status: number, answer: ErrorAnswer | undefined) {
    super(message);
    this.status = status;
    this.answer = answer;
  }
}

/** Who the audit record names for this operator: --by, else the login name, marked as the CLI's. */
export function operator(by: string | undefined): string {
  if (by !== undefined) return by;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? process.env.USERNAME ?? "unknown";
  }
  return `${name} (cli)`;
}

type Method = "GET" | "POST" | "PUT";

/** One admin API request, its JSON answer read with `answer` (what this CLI expects the gateway to say). */
export async function adminRequest<T>(target: AdminTarget, answer: z.ZodType<T>, method: Method, path: string, body?: unknown): Promise<T> {
  const response = await send(target, method, path, "application/json", body);
  const text = await response.text();
  const json = parseJson(text);
  if (!response.ok) throw refusal(target, response.status, ErrorAnswerSchema.safeParse(json).data);
  if (json === undefined) throw new CliError(`${target.origin} answered ${method} ${route(path)} with something that is not JSON: is it the gateway?`);
  return read(target, answer, json, `${method} ${route(path)}`);
}

/** An admin API answer read as JSON lines (Accept: application/x-ndjson), one record at a time as they arrive. */
export async function* adminLines<T>(target: AdminTarget, answer: z.ZodType<T>, path: string): AsyncGenerator<T> {
  const response = await send(target, "GET", path, "application/x-ndjson", undefined);
  if (!response.ok) throw refusal(target, response.status, ErrorAnswerSchema.safeParse(parseJson(await response.text())).data);
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = "";
  const line = (text: string) => {
    const json = parseJson(text);
    if (json === undefined) throw new CliError(`${target.origin} sent a line that is not JSON: is it the gateway?`);
    return read(target, answer, json, `GET ${route(path)}`);
  };
  for await (const chunk of response.body) {
    const lines = (pending + decoder.decode(chunk, { stream: true })).split("\n");
    pending = lines.pop() ?? "";
    for (const text of lines) if (text.trim() !== "") yield line(text);
  }
  if (pending.trim() !== "") yield line(pending);
}

function read<T>(target: AdminTarget, answer: z.ZodType<T>, json: unknown, what: string): T {
  const parsed = answer.safeParse(json);
  if (!parsed.success) throw new CliError(`${target.origin} answered ${what} with something this CLI cannot read: is the CLI older than the gateway?`);
  return parsed.data;
}

const route = (path: string) => `/admin/api${path.split("?")[0]}`;

async function send(target: AdminTarget, method: Method, path: string, accept: string, body: unknown): Promise<Response> {
  try {
    return await fetch(`${target.origin}/admin/api${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}`, accept, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      redirect: "error",
    });
  } catch (error) {
    throw new CliError(unreachable(target, error));
  }
}

function unreachable(target: AdminTarget, error: unknown): string {
  const cause = error instanceof Error ? (error.name === "TimeoutError" ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : causeOf(error)) : String(error);
  if (target.from === "npm start") return `cannot reach the gateway of npm start at ${target.origin} (${cause}); is npm start still running? ${HOW_TO_REACH}`;
  return `cannot reach the gateway at ${target.origin} (${cause})`;
}

/** fetch's own message is "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, a certificate) is its cause. */
function causeOf(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) return "code" in cause && typeof cause.code === "string" ? `${cause.code}: ${cause.message}` : cause.message;
  return error.message;
}

function refusal(target: AdminTarget, status: number, answer: ErrorAnswer | undefined): AdminApiError {
  return new AdminApiError(refusalMessage(target, status, answer), status, answer);
}

function refusalMessage(target: AdminTarget, status: number, answer: ErrorAnswer | undefined): string {
  const { origin } = target;
  const said = answer?.message ?? answer?.error;
  switch (status) {
    case 401:
      if (target.from === "npm start" && target.tokenFromEnv) return `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: unset it to use npm start's own token`;
      if (target.from === "npm start") {
        const where = target.instance ? ` (${shortPath(instanceFile(target.instance.port))})` : "";
        return `the gateway at ${origin} refused npm start's admin token${where}: is this the npm start that wrote it? Restart it, or pass --url`;
      }
      return `the gateway at ${origin} refused the admin token in ${ADMIN_TOKEN_ENV}: it is not the gateway's ADMIN_TOKEN`;
    case 404:
      // The admin API says not_found for a thing it does not have; any other 404 means there is no admin API at all.
      if (answer?.error === "not_found" && said) return `${printable(said)} at ${origin}`;
      return `${origin} has no admin API: the gateway runs without an ADMIN_TOKEN (set one: wrangler secret put ADMIN_TOKEN), or this is not the gateway's URL`;
    case 400:
    case 409:
    case 413:
    case 429: {
      const problems = answer?.problems?.map((problem) => `\n  ${printable(problem)}`).join("") ?? "";
      return `the gateway refused: ${said ? printable(said) : `HTTP ${status}`}${problems}`;
    }
    default:
      return `the gateway at ${origin} answered ${status}${said ? `: ${printable(said)}` : ""}`;
  }
}

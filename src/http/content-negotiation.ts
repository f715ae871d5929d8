import { GatewayError, GatewayErrorCode } from "../errors.ts";

/** The media types an Accept or Content-Type header lists, lower-cased, without parameters. */
function mediaTypes(header: string | null | undefined): string[] {
  return (header ?? "").split(",").map((part) => (part.split(";")[0] ?? "").trim().toLowerCase());
}

/** The MCP transport requires clients to list each type it may answer with explicitly. */
export function assertAccepts(header: string | null | undefined, required: string[]): void {
  const listed = mediaTypes(header);
  const missing = required.filter((type) => !listed.includes(type));
  if (missing.length > 0) {
    throw new GatewayError(
      406,
      GatewayErrorCode.TransportError,
      `Not Acceptable: Accept must list ${required.join(" and ")}`,
    );
  }
}

export function assertJsonContentType(header: string | null | undefined): void {
  const [type] = mediaTypes(header);
  if (type !== "application/json") {
    throw new GatewayError(415, GatewayErrorCode.TransportError, "Unsupported Media Type: Content-Type must be application/json");
  }
}

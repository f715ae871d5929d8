import type { Context } from "hono";
import { PAGE_HEADERS } from "../admin/pages/headers.ts";
import packageJson from "../../package.json" with { type: "json" };

/**
 * What a person who opens the gateway's URL in a browser sees: its name, its
 * version and where the two doors are. No script, the console's headers.
 */
export function homePage(c: Context): Response {
  const origin = new URL(c.req.url).origin;
  const escape = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>mcp-policy-gateway</title></head>
<body>
<h1>mcp-policy-gateway ${escape(packageJson.version)}</h1>
<p>An MCP policy gateway: agents reach the MCP server behind it only through a grant's policy.</p>
<ul>
<li>MCP endpoint (Streamable HTTP, for MCP clients): <code>${escape(origin)}/mcp</code>, with a grant token (<code>Authorization: Bearer mcpgw_…</code>) or by signing in with OAuth.</li>
<li>Operators: <a href="/admin">${escape(origin)}/admin</a></li>
</ul>
</body></html>
`;
  return c.html(html, 200, { ...PAGE_HEADERS, "Cache-Control": "no-cache" });
}

let icon: Uint8Array<ArrayBuffer> | undefined;

/** The tab icon: browsers ask every page for /favicon.ico, and a 404 there is an error in every console. */
export function favicon(c: Context): Response {
  icon ??= gateIcon();
  return c.body(icon, 200, { "Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff" });
}

/** A 16×16 ICO (one 32-bit BMP image): a gate, light on a dark blue rounded square. */
function gateIcon(): Uint8Array<ArrayBuffer> {
  const size = 16;
  const header = 6 + 16;
  const bitmapHeader = 40;
  const pixels = size * size * 4;
  const mask = size * 4; // 1 bit per pixel, rows padded to 4 bytes; all zero (the alpha channel decides)
  const bytes = new Uint8Array(header + bitmapHeader + pixels + mask);
  const view = new DataView(bytes.buffer);
  view.setUint16(2, 1, true); // type: icon
  view.setUint16(4, 1, true); // one image
  bytes.set([size, size, 0, 0], 6);
  view.setUint16(10, 1, true); // colour planes
  view.setUint16(12, 32, true); // bits per pixel
  view.setUint32(14, bitmapHeader + pixels + mask, true);
  view.setUint32(18, header, true);
  view.setUint32(header, bitmapHeader, true);
  view.setInt32(header + 4, size, true);
  view.setInt32(header + 8, size * 2, true); // an icon's bitmap counts its mask's rows too
  view.setUint16(header + 12, 1, true);
  view.setUint16(header + 14, 32, true);
  view.setUint32(header + 20, pixels + mask, true);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const corner = (x === 1 || x === 14) && (y === 1 || y === 14);
      const inside = x >= 1 && x <= 14 && y >= 1 && y <= 14 && !corner;
      const gate = (y === 4 && x >= 3 && x <= 12) || ([4, 5, 10, 11].includes(x) && y >= 4 && y <= 12);
      const [r, g, b, a] = !inside ? [0, 0, 0, 0] : gate ? [0xf4, 0xf1, 0xea, 0xff] : [0x1f, 0x3a, 0x5f, 0xff];
      // Rows bottom-up, each pixel blue, green, red, alpha.
      bytes.set([b, g, r, a], header + bitmapHeader + ((size - 1 - y) * size + x) * 4);
    }
  }
  return bytes;
}

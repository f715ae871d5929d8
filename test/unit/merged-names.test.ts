import { describe, expect, it } from "vitest";
import { mergeCursor, readMergedCursor } from "../../src/servers/merged-cursor.ts";
import { mergedName, originalName, splitMergedName } from "../../src/servers/names.ts";

describe("merged names", () => {
  it("a name that fits is the server's name, two underscores, and the tool's own", async () => {
    expect(await mergedName("iterable", "send_campaign")).toBe("iterable__send_campaign");
    expect(splitMergedName("iterable__send_campaign")).toEqual({ server: "iterable", rest: "send_campaign" });
    expect(await originalName("iterable", "iterable__send_campaign", "send_campaign", async () => [])).toBe("send_campaign");
  });

  it("a name too long, or with characters the specification does not allow, is cut to 64 with a stable hash and found again", async () => {
    const long = "x".repeat(100);
    const cut = await mergedName("crm-with-a-long-name", long);
    expect(cut).toHaveLength(64);
    expect(await mergedName("crm-with-a-long-name", long)).toBe(cut);
    expect(await mergedName("crm-with-a-long-name", `${long}y`)).not.toBe(cut);
    const odd = await mergedName("crm", "lookup customer/by id");
    expect(odd).toMatch(/^crm__lookup_customer_by_id_[0-9a-f]{8}$/);
    const known = async () => [long, "lookup customer/by id", "other"];
    expect(await originalName("crm-with-a-long-name", cut, splitMergedName(cut)!.rest, known)).toBe(long);
    expect(await originalName("crm", odd, splitMergedName(odd)!.rest, known)).toBe("lookup customer/by id");
    // A real name that merely ends like a cut one is itself.
    expect(await originalName("crm", "crm__plain_0123abcd", "plain_0123abcd", async () => ["plain_0123abcd"])).toBe("plain_0123abcd");
    // Nothing known by that name: no guess.
    expect(await originalName("crm", cut, splitMergedName(cut)!.rest, async () => ["other"])).toBeUndefined();
  });
});

describe("merged cursors", () => {
  it("carry each server's own cursor, and only for servers the request may ask", () => {
    const cursor = mergeCursor(new Map<string, unknown>([["iterable", "page-2"], ["features", 17]]));
    expect(readMergedCursor(cursor, ["iterable", "features"])).toEqual(new Map<string, unknown>([["iterable", "page-2"], ["features", 17]]));
    expect(readMergedCursor(cursor, ["iterable"])).toBeUndefined();
    expect(readMergedCursor("not base64url at all!", ["iterable"])).toBeUndefined();
    expect(readMergedCursor(42, ["iterable"])).toBeUndefined();
    expect(readMergedCursor("a".repeat(70_000), ["iterable"])).toBeUndefined();
  });
});

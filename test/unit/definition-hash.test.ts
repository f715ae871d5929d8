import { describe, expect, it } from "vitest";
import { hashText } from "../../src/pins/definition.ts";

/** The runtime's own SHA-256 (hex) of the text's UTF-8: what a pin's hash has always been. */
async function platformHash(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

describe("hashText (a pin's hash)", () => {
  it("is the SHA-256 of the text's UTF-8, as the published test vectors give it", () => {
    expect(hashText("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hashText("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("matches the runtime's SHA-256 at every length across block edges, with characters of one to four bytes", async () => {
    const characters = ["a", "é", "€", "😀", "\n", '"', "\\"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let length = 0; length <= 300; length++) {
      const text = Array.from({ length }, () => characters[next() % characters.length]).join("");
      expect(hashText(text), `length ${length}`).toBe(await platformHash(text));
    }
  });
});

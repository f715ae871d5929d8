import { describe, expect, it } from "vitest";
import { clip, clipLine, stripControls } from "../../src/text/clip.ts";

describe("clip", () => {
  it("keeps text of at most max characters as it is, and cuts longer text to max with an ellipsis", () => {
    expect(clip("abc", 3)).toBe("abc");
    expect(clip("abcd", 3)).toBe("ab…");
    expect(clip("", 1)).toBe("");
  });

  it("counts and cuts whole code points: no emoji is cut in half, and one that fits is kept", () => {
    const faces = "😀😀😀";
    expect(faces.length).toBe(6);
    expect(clip(faces, 3)).toBe(faces);
    expect(clip(`${faces}😀`, 3)).toBe("😀😀…");
  });
});

describe("stripControls", () => {
  it("turns each run of controls and line separators into one space", () => {
    expect(stripControls("a\r\n\tb\u0000c\u007f\u0085d\u2028e")).toBe("a b c d e");
  });

  it("drops every bidirectional formatting character", () => {
    const bidi = ["\u061c", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"];
    expect(stripControls(`inv${bidi.join("")}oice\u202Egnp.exe`)).toBe("invoicegnp.exe");
  });

  it("replaces a lone surrogate, keeps pairs and other text", () => {
    expect(stripControls("a\ud800b😀é")).toBe("a\ufffdb😀é");
  });
});

describe("clipLine", () => {
  it("clips what is left once the invisible characters are gone", () => {
    expect(clipLine(`\u202E\u202E\u202Eabcdef`, 4)).toBe("abc…");
  });
});

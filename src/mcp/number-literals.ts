/** One step of a path into a JSON value: a member name or an array index. */
export type PathStep = string | number;

/** A number literal whose value the parse changed: where it is, and what it became. */
export type ChangedNumber = { path: PathStep[]; parsed: number };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/**
 * A literal this short without an exponent has at most 15 significant digits
 * and a magnitude between 1e-13 and 1e15: every such decimal is the shortest
 * form of its own double, so it survives. Most numbers in a call are short
 * integers and stop here.
 */
const ALWAYS_EXACT_CHARS = 15;

/**
 * The first number literal in a JSON text whose value does not survive
 * parsing: JSON.parse rounds `9007199254740993` to …992 and `1e-400` to 0,
 * and the gateway would judge, show and forward the rounded number. A literal
 * survives when the shortest decimal form of the double it parses to (what
 * JSON.stringify writes) has the same value: `1.0`, `1e2` and `0.10` do.
 * `text` must be valid JSON (it was parsed): then every `-` or digit outside
 * a string starts a number. One pass, strings skipped with indexOf; the path
 * is worked out only for a literal that changed.
 */
export function firstChangedNumber(text: string): ChangedNumber | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      continue;
    }
    if (c !== MINUS && (c < ZERO || c > NINE)) continue;
    let end = i + 1;
    let exponent = false;
    for (let d = text.charCodeAt(end); isNumberChar(d); d = text.charCodeAt(++end)) {
      if (d === LOWER_E || d === UPPER_E) exponent = true;
    }
    if (exponent || end - i > ALWAYS_EXACT_CHARS) {
      const literal = text.slice(i, end);
      const parsed = Number(literal);
      if (!survives(literal, parsed)) return { path: pathAt(text, i), parsed };
    }
    i = end - 1;
  }
  return undefined;
}

function survives(literal: string, parsed: number): boolean {
  if (!Number.isFinite(parsed)) return false;
  const shortest = String(parsed);
  // What JSON.stringify wrote in the first place: the common case, with no arithmetic.
  return shortest === literal || decimalValue(shortest) === decimalValue(literal);
}

const NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * A decimal literal's exact value, written one way: significant digits
 * without leading or trailing zeros, and a power of ten ("-123e-2"); "0"
 * for any zero, whatever its sign (JSON.stringify writes -0 as 0).
 */
function decimalValue(literal: string): string {
  const match = NUMBER.exec(literal);
  if (!match) return literal;
  const [, sign = "", whole = "", fraction = "", exponent = "0"] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, "");
  const significant = digits.replace(/0+$/, "");
  if (significant === "") return "0";
  // An exponent too large to add exactly only occurs on a literal that parses to 0 or Infinity, told apart by its digits.
  const power = Number(exponent) - fraction.length + (digits.length - significant.length);
  return `${sign}${significant}e${power}`;
}

/** JSON number characters after the first: digits, `.`, `e`, `E`, `+`, `-`. */
function isNumberChar(c: number): boolean {
  return (c >= ZERO && c <= NINE) || c === DOT || c === LOWER_E || c === UPPER_E || c === PLUS || c === MINUS;
}

/** Where the string opened at `open` ends: its first quote not escaped by an odd run of backslashes. */
function closingQuote(text: string, open: number): number {
  let at = text.indexOf('"', open + 1);
  while (at > 0 && isEscaped(text, at)) at = text.indexOf('"', at + 1);
  return at < 0 ? text.length : at;
}

function isEscaped(text: string, at: number): boolean {
  let backslashes = 0;
  for (let j = at - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes += 1;
  return backslashes % 2 === 1;
}

/** The path of the value starting at `target`, read from the text before it (valid JSON). */
function pathAt(text: string, target: number): PathStep[] {
  const path: PathStep[] = [];
  const inObject: boolean[] = [];
  let expectingKey = false;
  for (let i = 0; i < target; i++) {
    switch (text.charCodeAt(i)) {
      case QUOTE: {
        const end = closingQuote(text, i);
        if (expectingKey) path[path.length - 1] = JSON.parse(text.slice(i, end + 1)) as string;
        expectingKey = false;
        i = end;
        break;
      }
      case OPEN_OBJECT:
        path.push("");
        inObject.push(true);
        expectingKey = true;
        break;
      case OPEN_ARRAY:
        path.push(0);
        inObject.push(false);
        break;
      case CLOSE_OBJECT:
      case CLOSE_ARRAY:
        path.pop();
        inObject.pop();
        break;
      case COMMA:
        if (inObject.at(-1)) expectingKey = true;
        else path[path.length - 1] = (path.at(-1) as number) + 1;
        break;
    }
  }
  return path;
}

// The EnrichBidRequest hot path reads a BidRequest in one pass over its bytes, without JSON.parse:
// it checks the JSON syntax of the whole document (it accepts exactly what JSON.parse accepts)
// and materializes only what the schema (openrtb.ts) reads, so the parsed 1.3 KB request, which
// was JSON.parse's ~7-10 µs plus the garbage collector's share, is never built. On the way it
// notes where enrichment goes (user.data, each imp's ext.data), so the answer is the request's
// own bytes with the additions copied in (enrichBytes, openrtb.ts).
//
// What it returns, the "skeleton", holds every field bidRequestProblem, identifiersOf and
// privacySignals read, with the values JSON.parse would give them; an object or array the schema
// does not look into is an empty one ({} or []) of the same kind (the names of `imp[].ext.data`'s
// members are noted: enrichment must know whether its targeting key is there). So the check's
// answer on the skeleton is its answer on the parsed request. test/unit/openrtb-scan.test.ts holds both to
// JSON.parse + bidRequestProblem on every fixture under thousands of mutations.

import { isUtf8 } from 'node:buffer';

/** Where one object or array of the request is, in its bytes. */
export interface Mark {
  /** Offset of the closing `}` or `]`. */
  readonly close: number;
  /** Members (object) or elements (array). */
  readonly count: number;
  /** Marks of the members whose shape is marked (last occurrence, as in JSON.parse). */
  readonly members: Readonly<Record<string, Mark | undefined>>;
  /** Marks of the elements (arrays of marked shapes). */
  readonly items: readonly (Mark | undefined)[];
  /** The member names, decoded (objects read for their keys only). */
  readonly keys: readonly string[];
}

/** A scanned request: the skeleton, the bytes and where things are in them. */
export interface Scanned {
  readonly skeleton: Record<string, unknown>;
  readonly bytes: Buffer;
  /** Offset of the request's first byte (after a UTF-8 byte order mark). */
  readonly start: number;
  readonly root: Mark;
}

/** Why a request could not be scanned: not UTF-8 JSON, or JSON whose root is not an object. */
export class ScanError extends Error {
  constructor(readonly reason: 'syntax' | 'not-object') {
    super(reason === 'syntax' ? 'not valid UTF-8 JSON' : 'not a JSON object');
  }
}

// What the scanner does with a member's value.
const LEAF = 0; // scalars as JSON.parse gives them; arrays of scalars (nested containers empty); objects empty
const SHALLOW = 1; // scalars; objects and arrays empty
const KEYS = 2; // as SHALLOW, and an object's member names go in its mark
const OBJECT = 3; // an object read with `shape`; otherwise as SHALLOW
const ARRAY = 4; // an array whose elements are read as `item`; otherwise as SHALLOW

interface Field {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly how: How;
}
type How =
  | { readonly kind: typeof LEAF | typeof SHALLOW | typeof KEYS }
  | { readonly kind: typeof OBJECT; readonly shape: Shape }
  | { readonly kind: typeof ARRAY; readonly item: How; readonly marked: boolean };
interface Shape {
  readonly fields: readonly Field[];
  readonly marked: boolean;
  /** A new object with every field, undefined: reading fills existing properties (no map transitions). */
  readonly create: () => Record<string, unknown>;
  /** The same for the marked fields (a mark's members). */
  readonly createMembers: () => Record<string, Mark | undefined>;
}

const leaf: How = { kind: LEAF };
const shallow: How = { kind: SHALLOW };
const keys: How = { kind: KEYS };
const object = (fields: Record<string, How>, marked = false): How => ({ kind: OBJECT, shape: shape(fields, marked) });
const array = (item: How, marked = false): How => ({ kind: ARRAY, item, marked });
function shape(fields: Record<string, How>, marked = false): Shape {
  const list = Object.entries(fields).map(([name, how]) => ({ name, bytes: Buffer.from(name, 'latin1'), how }));
  return {
    marked, fields: list,
    create: literal(list.map((f) => f.name)),
    createMembers: literal(list.filter((f) => isMarked(f.how)).map((f) => f.name)) as () => Record<string, Mark | undefined>,
  };
}

/**
 * A function returning the object literal `{name: undefined, ...}`: V8 creates such a literal from
 * a ready-made layout, many times faster than copying a template or adding properties one by one.
 * The names are this file's own constants, never input.
 */
function literal(names: readonly string[]): () => Record<string, unknown> {
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from the constant field names above
  return new Function(`return {${names.map((n) => `${JSON.stringify(n)}: undefined`).join(', ')}};`) as () => Record<string, unknown>;
}

// The schema of openrtb.ts (what bidRequestProblem checks), plus what enrichment reads:
// user.data[].ext.segtax and the keys of imp[].ext.data.
const uid = object({ id: leaf, atype: leaf, ext: object({ rtiPartner: leaf }) });
const eids = array(object({ source: leaf, uids: array(uid) }));
const media = object({ mimes: leaf });
const REQUEST = shape({
  id: leaf,
  imp: array(object({
    id: leaf, banner: shallow, video: media, audio: media, native: object({ request: leaf }),
    ext: object({ data: keys }, true),
  }, true), true),
  site: shallow,
  app: shallow,
  dooh: shallow,
  user: object({
    id: leaf, buyeruid: leaf, consent: leaf, eids,
    data: array(object({ id: leaf, name: leaf, segment: array(shallow), ext: object({ segtax: leaf }) }), true),
    ext: object({ consent: leaf, eids }),
  }, true),
  device: object({ ifa: leaf, os: leaf, lmt: leaf, ext: object({ ifa_type: leaf, atts: leaf }) }),
  regs: object({ coppa: leaf, gdpr: leaf, us_privacy: leaf, gpp: leaf, gpp_sid: leaf, ext: object({ gdpr: leaf, us_privacy: leaf }) }),
}, true);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const IN_OBJECT = 1;
const IN_ARRAY = 2;
const NO_MEMBERS: Readonly<Record<string, Mark | undefined>> = Object.freeze({});
const NO_ITEMS: readonly (Mark | undefined)[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);

const syntax = (): never => {
  throw new ScanError('syntax');
};

/** One pass over one request; not reentrant (the hot path keeps one). */
class Scanner {
  b: Buffer = Buffer.alloc(0);
  /** The bytes as latin1 text: one character per byte, so offsets are the same. */
  latin1 = '';
  pos = 0;
  /** The mark of the object or array a scan just finished (marked shapes only). */
  mark: Mark | undefined;
  /** Set by string(): the string had an escape / a byte outside ASCII. */
  escaped = false;
  wide = false;
  readonly stack: number[] = [];

  scan(bytes: Buffer): Scanned {
    this.b = bytes;
    // One decoding of the whole request; the values read are slices of it (a substring is much
    // cheaper than a Buffer#toString call per value).
    this.latin1 = bytes.toString('latin1');
    const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    this.pos = start;
    this.space();
    if (bytes[this.pos] !== OPEN_OBJECT) {
      this.skip();
      this.end();
      throw new ScanError('not-object');
    }
    const skeleton = this.object(REQUEST);
    const root = this.mark as Mark;
    this.end();
    return { skeleton, bytes, start, root };
  }

  end(): void {
    this.space();
    if (this.pos !== this.b.length) syntax();
  }

  /** Skips whitespace (the hot paths test the next byte first: compact JSON has none, and a call costs). */
  space(): void {
    const b = this.b;
    let p = this.pos;
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.pos = p;
  }

  /** Skips the string whose opening quote is at pos; returns the offset of its closing quote. */
  string(): number {
    const b = this.b;
    const n = b.length;
    let p = this.pos + 1;
    let escaped = false;
    let wide = false;
    for (;;) {
      if (p >= n) syntax();
      const c = b[p] as number;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        const e = b[p + 1];
        if (e === 0x75) {
          for (let k = p + 2; k < p + 6; k++) {
            const h = b[k];
            if (h === undefined || !((h >= 0x30 && h <= 0x39) || (h >= 0x41 && h <= 0x46) || (h >= 0x61 && h <= 0x66))) syntax();
          }
          p += 6;
        } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          p += 2;
        } else {
          syntax();
        }
        continue;
      }
      if (c < 0x20) syntax();
      if (c >= 0x80) wide = true;
      p++;
    }
    this.escaped = escaped;
    this.wide = wide;
    this.pos = p + 1;
    return p;
  }

  /** The JS string of the JSON string from `open` (its quote) to `close` (its closing quote). */
  text(open: number, close: number): string {
    if (this.escaped) return JSON.parse(this.b.toString('utf8', open, close + 1)) as string;
    return this.wide ? this.b.toString('utf8', open + 1, close) : this.latin1.slice(open + 1, close);
  }

  digits(): void {
    const b = this.b;
    let c = b[this.pos];
    if (c === undefined || c < 0x30 || c > 0x39) syntax();
    do c = b[++this.pos];
    while (c !== undefined && c >= 0x30 && c <= 0x39);
  }

  /** Skips a number at pos (JSON's grammar: no leading zeros, no `+`, no bare `.`). */
  number(): void {
    const b = this.b;
    if (b[this.pos] === 0x2d) this.pos++;
    if (b[this.pos] === 0x30) this.pos++;
    else this.digits();
    if (b[this.pos] === 0x2e) {
      this.pos++;
      this.digits();
    }
    const e = b[this.pos];
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      const sign = b[this.pos];
      if (sign === 0x2b || sign === 0x2d) this.pos++;
      this.digits();
    }
  }

  literal(word: string): void {
    const b = this.b;
    for (let i = 0; i < word.length; i++) if (b[this.pos + i] !== word.charCodeAt(i)) syntax();
    this.pos += word.length;
  }

  /** A scalar at pos, as JSON.parse gives it. */
  scalar(): unknown {
    const c = this.b[this.pos];
    if (c === QUOTE) {
      const open = this.pos;
      return this.text(open, this.string());
    }
    if (c === 0x74) {
      this.literal('true');
      return true;
    }
    if (c === 0x66) {
      this.literal('false');
      return false;
    }
    if (c === 0x6e) {
      this.literal('null');
      return null;
    }
    const from = this.pos;
    this.number();
    return Number(this.latin1.slice(from, this.pos));
  }

  /** Skips the value at pos, checking its syntax (iteratively: nesting depth costs no stack). */
  skip(): void {
    const b = this.b;
    const stack = this.stack;
    let depth = 0;
    for (;;) {
      if ((b[this.pos] as number) <= 0x20) this.space();
      const c = b[this.pos];
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        this.pos++;
        if ((b[this.pos] as number) <= 0x20) this.space();
        if (b[this.pos] === (c === OPEN_OBJECT ? CLOSE_OBJECT : CLOSE_ARRAY)) {
          this.pos++;
        } else {
          stack[depth++] = c === OPEN_OBJECT ? IN_OBJECT : IN_ARRAY;
          if (c === OPEN_OBJECT) this.key();
          continue;
        }
      } else if (c === QUOTE) {
        this.string();
      } else if (c === 0x74) {
        this.literal('true');
      } else if (c === 0x66) {
        this.literal('false');
      } else if (c === 0x6e) {
        this.literal('null');
      } else {
        this.number();
      }
      // After a value: close what ends here, up to the next value.
      for (;;) {
        if (depth === 0) return;
        if ((b[this.pos] as number) <= 0x20) this.space();
        const next = b[this.pos++];
        const inside = stack[depth - 1];
        if (next === COMMA) {
          if (inside === IN_OBJECT) this.key();
          break;
        }
        if ((next === CLOSE_OBJECT && inside === IN_OBJECT) || (next === CLOSE_ARRAY && inside === IN_ARRAY)) depth--;
        else syntax();
      }
    }
  }

  /** Skips `"key" :` at pos. */
  key(): void {
    this.space();
    if (this.b[this.pos] !== QUOTE) syntax();
    this.string();
    this.space();
    if (this.b[this.pos++] !== COLON) syntax();
  }

  /** The value at pos (after space) read as `how` says. */
  value(how: How): unknown {
    const c = this.b[this.pos];
    if (c === OPEN_OBJECT) {
      if (how.kind === OBJECT) return this.object(how.shape);
      if (how.kind === KEYS) return this.keys();
      this.skip();
      this.mark = undefined;
      return {};
    }
    if (c === OPEN_ARRAY) {
      if (how.kind === ARRAY) return this.array(how.item, how.marked);
      if (how.kind === LEAF) return this.array(shallow, false);
      this.skip();
      this.mark = undefined;
      return [];
    }
    this.mark = undefined;
    return this.scalar();
  }

  /** The object at pos read with `shape`; sets `mark` for a marked shape. */
  object(s: Shape): Record<string, unknown> {
    const b = this.b;
    const out = s.create();
    let members: Record<string, Mark | undefined> | undefined;
    let count = 0;
    this.pos++;
    if ((b[this.pos] as number) <= 0x20) this.space();
    if (b[this.pos] === CLOSE_OBJECT) {
      const close = this.pos++;
      this.mark = s.marked ? { close, count, members: NO_MEMBERS, items: NO_ITEMS, keys: NO_KEYS } : undefined;
      return out;
    }
    for (;;) {
      if ((b[this.pos] as number) <= 0x20) this.space();
      if (b[this.pos] !== QUOTE) syntax();
      const open = this.pos;
      const close = this.string();
      const field = this.field(s, open, close);
      if ((b[this.pos] as number) <= 0x20) this.space();
      if (b[this.pos++] !== COLON) syntax();
      if ((b[this.pos] as number) <= 0x20) this.space();
      count++;
      if (field === undefined) {
        this.skip();
      } else {
        out[field.name] = this.value(field.how);
        if (s.marked && isMarked(field.how)) (members ??= s.createMembers())[field.name] = this.mark;
      }
      if ((b[this.pos] as number) <= 0x20) this.space();
      const next = b[this.pos++];
      if (next === COMMA) continue;
      if (next !== CLOSE_OBJECT) syntax();
      this.mark = s.marked ? { close: this.pos - 1, count, members: members ?? NO_MEMBERS, items: NO_ITEMS, keys: NO_KEYS } : undefined;
      return out;
    }
  }

  /** The field of `s` the key between the quotes at `open` and `close` names, if any. */
  field(s: Shape, open: number, close: number): Field | undefined {
    const b = this.b;
    if (this.escaped) {
      const name = this.text(open, close);
      return s.fields.find((f) => f.name === name);
    }
    const length = close - open - 1;
    for (const f of s.fields) {
      const want = f.bytes;
      if (want.length !== length) continue;
      let i = 0;
      while (i < length && b[open + 1 + i] === want[i]) i++;
      if (i === length) return f;
    }
    return undefined;
  }

  /** The object at pos, empty; its member names go in `mark`. */
  keys(): Record<string, unknown> {
    const b = this.b;
    const names: string[] = [];
    let count = 0;
    this.pos++;
    if ((b[this.pos] as number) <= 0x20) this.space();
    if (b[this.pos] !== CLOSE_OBJECT) {
      for (;;) {
        count++;
        if ((b[this.pos] as number) <= 0x20) this.space();
        if (b[this.pos] !== QUOTE) syntax();
        const open = this.pos;
        names.push(this.text(open, this.string()));
        if ((b[this.pos] as number) <= 0x20) this.space();
        if (b[this.pos++] !== COLON) syntax();
        if ((b[this.pos] as number) <= 0x20) this.space();
        this.skip();
        if ((b[this.pos] as number) <= 0x20) this.space();
        if (b[this.pos] === CLOSE_OBJECT) break;
        if (b[this.pos++] !== COMMA) syntax();
      }
    }
    this.mark = { close: this.pos++, count, members: NO_MEMBERS, items: NO_ITEMS, keys: names };
    return {};
  }

  /** The array at pos, its elements read as `item`; sets `mark` when `marked`. */
  array(item: How, marked: boolean): unknown[] {
    const b = this.b;
    const out: unknown[] = [];
    const items: (Mark | undefined)[] | undefined = marked ? [] : undefined;
    this.pos++;
    if ((b[this.pos] as number) <= 0x20) this.space();
    if (b[this.pos] !== CLOSE_ARRAY) {
      for (;;) {
        if ((b[this.pos] as number) <= 0x20) this.space();
        out.push(this.value(item));
        items?.push(this.mark);
        if ((b[this.pos] as number) <= 0x20) this.space();
        if (b[this.pos] === CLOSE_ARRAY) break;
        if (b[this.pos++] !== COMMA) syntax();
      }
    }
    const close = this.pos++;
    this.mark = items === undefined ? undefined : { close, count: out.length, members: NO_MEMBERS, items, keys: NO_KEYS };
    return out;
  }
}

function isMarked(how: How): boolean {
  return how.kind === KEYS || (how.kind === OBJECT && how.shape.marked) || (how.kind === ARRAY && how.marked);
}

const scanner = new Scanner();

/**
 * Scans a BidRequest's bytes: the skeleton (see the top of this file) and where its parts are.
 * @throws ScanError when the bytes are not UTF-8 JSON, or JSON whose root is not an object.
 */
export function scanBidRequest(bytes: Uint8Array): Scanned {
  if (!isUtf8(bytes)) throw new ScanError('syntax');
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return scanner.scan(buffer);
  } finally {
    scanner.b = EMPTY;
    scanner.latin1 = '';
    scanner.mark = undefined;
    // A deeply nested request grew the skip stack: do not keep that memory for the next one.
    if (scanner.stack.length > 1024) scanner.stack.length = 0;
  }
}

const EMPTY = Buffer.alloc(0);

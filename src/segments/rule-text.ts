import type { Json } from '../json.ts';
import { PulseError } from '../errors.ts';
import {
  parseRule, RULE_LIMITS, TIME_UNITS, validateRule,
  type BoolTree, type Condition, type Duration, type FieldTest, type PropertyFilter, type RelativeDate, type RelativeDateTest, type Rule, type SequenceStep, type TimeUnit, type Window,
} from './rule.ts';

/*
 * The readable text form of rules. Grammar (keywords are lowercase; precedence not > and > or):
 *
 *   rule      = or
 *   or        = and { "or" and }
 *   and       = unary { "and" unary }
 *   unary     = "not" unary | "(" or ")" | ("all" | "any") "(" or { "," or } ")" | condition
 *   condition = name field-test                                   trait
 *             | "count" "(" subject ")" [window] comparison
 *             | ("sum" | "min" | "max") "(" name "." name [where] ")" [window] comparison
 *             | "never" "(" subject ")" [window]                  did not do
 *             | "last" "seen" "within" duration                   recency, any event
 *             | "last" "(" subject ")" "within" duration          recency of one event
 *             | "sequence" "(" subject "," subject { "," subject } ")" ["within" duration] [window]
 *             | "segment" "(" name ")"
 *   field-test = ("=" | "!=" | ">" | ">=" | "<" | "<=" | "contains") literal
 *             | ["not"] "in" literal | ["not"] "exists" | "between" literal "and" literal
 *             | ("before" | "after") (literal | INTEGER unit "ago" | INTEGER unit "from" "now")
 *   subject   = name [where]
 *   where     = "where" filter        (filter: the boolean grammar over name field-test, no relative dates)
 *   window    = "in" "last" duration | "from" STRING "to" STRING
 *   duration  = INTEGER unit          unit = minute(s) | hour(s) | day(s) | week(s)
 *   comparison = (">=" | ">" | "=" | "<=" | "<") NUMBER | "between" NUMBER "and" NUMBER
 *   name      = IDENTIFIER (not a keyword) | STRING
 *   literal   = STRING | NUMBER | "true" | "false" | "null" | "[" [literal {"," literal}] "]" | "{" [STRING ":" literal {"," ...}] "}"
 *
 * Strings and numbers are JSON's. `count(...) = 0` is read as `never(...)`, the canonical form.
 */

/** Words with a meaning in the text form; a name spelled like one is written as a string. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'and', 'or', 'not', 'all', 'any', 'in', 'contains', 'between', 'exists', 'before', 'after', 'ago', 'from', 'now', 'to',
  'last', 'seen', 'within', 'where', 'count', 'sum', 'min', 'max', 'never', 'sequence', 'segment', 'true', 'false', 'null',
  'minute', 'minutes', 'hour', 'hours', 'day', 'days', 'week', 'weeks',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const UNIT_WORDS: Readonly<Record<string, TimeUnit>> = {
  minute: 'minutes', minutes: 'minutes', hour: 'hours', hours: 'hours', day: 'days', days: 'days', week: 'weeks', weeks: 'weeks',
};
const PUNCTUATION = ['>=', '<=', '!=', '(', ')', '[', ']', '{', '}', ',', ':', '.', '=', '>', '<'] as const;
const FIELD_OPERATORS: Readonly<Record<string, 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte'>> = { '=': 'eq', '!=': 'neq', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };
const EVENT_OPERATORS: Readonly<Record<string, 'eq' | 'gt' | 'gte' | 'lt' | 'lte'>> = { '=': 'eq', '>': 'gt', '>=': 'gte', '<': 'lt', '<=': 'lte' };
/** Deeper nesting is refused while parsing (the validator's limit is lower); it keeps recursion bounded. */
const MAX_NESTING = 64;

interface Token {
  readonly kind: 'identifier' | 'string' | 'number' | 'punctuation' | 'end';
  /** The source text (for strings, with quotes). */
  readonly text: string;
  /** The string's or number's value. */
  readonly value: string | number;
  readonly line: number;
  readonly column: number;
}

function syntaxError(at: { line: number; column: number }, message: string): PulseError {
  return new PulseError('INVALID_ARGUMENT', `rule: line ${at.line}, column ${at.column}: ${message}`, { field: 'rule' });
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** Splits rule text into tokens; the last one is `end`. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (ch === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r') {
      i++;
      continue;
    }
    const at = { line, column: i - lineStart + 1 };
    if (ch === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const c = source[j];
        if (c === undefined || c === '\n') throw syntaxError(at, 'unterminated string');
        if (c === '"') break;
        if (c === '\\') {
          const e = source[j + 1] ?? '';
          if (e === 'u') {
            const hex = source.slice(j + 2, j + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw syntaxError({ line, column: j - lineStart + 1 }, 'bad escape: \\u needs 4 hex digits');
            value += String.fromCharCode(parseInt(hex, 16));
            j += 6;
          } else if (Object.hasOwn(ESCAPES, e)) {
            value += ESCAPES[e];
            j += 2;
          } else {
            throw syntaxError({ line, column: j - lineStart + 1 }, `bad escape \\${e} (allowed: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)`);
          }
          continue;
        }
        value += c;
        j++;
      }
      tokens.push({ kind: 'string', text: source.slice(i, j + 1), value, ...at });
      i = j + 1;
      continue;
    }
    NUMBER.lastIndex = i;
    const number = (ch === '-' || (ch >= '0' && ch <= '9')) ? NUMBER.exec(source) : null;
    if (number !== null) {
      const value = Number(number[0]);
      if (!Number.isFinite(value)) throw syntaxError(at, `number out of range: ${number[0]}`);
      tokens.push({ kind: 'number', text: number[0], value, ...at });
      i += number[0].length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(source);
    if (word !== null) {
      tokens.push({ kind: 'identifier', text: word[0], value: word[0], ...at });
      i += word[0].length;
      continue;
    }
    const punctuation = PUNCTUATION.find((p) => source.startsWith(p, i));
    if (punctuation === undefined) throw syntaxError(at, `unexpected character ${JSON.stringify(ch)}`);
    tokens.push({ kind: 'punctuation', text: punctuation, value: punctuation, ...at });
    i += punctuation.length;
  }
  tokens.push({ kind: 'end', text: '', value: '', line, column: i - lineStart + 1 });
  return tokens;
}

function describe(t: Token): string {
  return t.kind === 'end' ? 'end of input' : t.kind === 'string' ? t.text : JSON.stringify(t.text);
}

type Node = Record<string, unknown>;
type Positions = WeakMap<object, { line: number; column: number }>;

/** Recursive descent over the tokens; builds plain JSON objects that validateRule then checks. */
class Parser {
  readonly #tokens: Token[];
  #i = 0;
  #depth = 0;
  readonly positions: Positions = new WeakMap();

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  peek(ahead = 0): Token {
    return this.#tokens[Math.min(this.#i + ahead, this.#tokens.length - 1)] as Token;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'end') this.#i++;
    return t;
  }

  is(text: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return (t.kind === 'identifier' || t.kind === 'punctuation') && t.text === text;
  }

  accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.#i++;
    return true;
  }

  expect(text: string, context = ''): Token {
    if (!this.is(text)) throw this.unexpected(`${JSON.stringify(text)}${context}`);
    return this.next();
  }

  unexpected(expected: string, t = this.peek()): PulseError {
    return syntaxError(t, `expected ${expected}, found ${describe(t)}`);
  }

  at<T extends object>(t: Token, node: T): T {
    this.positions.set(node, { line: t.line, column: t.column });
    return node;
  }

  nest<T>(t: Token, parse: () => T): T {
    if (++this.#depth > MAX_NESTING) throw syntaxError(t, `nested more than ${MAX_NESTING} levels`);
    const out = parse();
    this.#depth--;
    return out;
  }

  whole(): Node {
    const rule = this.or(() => this.condition());
    if (this.peek().kind !== 'end') throw this.unexpected('"and", "or" or the end of the rule');
    return rule;
  }

  or(leaf: () => Node): Node {
    const start = this.peek();
    const items = [this.and(leaf)];
    while (this.accept('or')) items.push(this.and(leaf));
    return items.length === 1 ? (items[0] as Node) : this.at(start, { any: items });
  }

  and(leaf: () => Node): Node {
    const start = this.peek();
    const items = [this.unary(leaf)];
    while (this.accept('and')) items.push(this.unary(leaf));
    return items.length === 1 ? (items[0] as Node) : this.at(start, { all: items });
  }

  unary(leaf: () => Node): Node {
    const t = this.peek();
    return this.nest(t, () => {
      if (this.accept('not')) return this.at(t, { not: this.unary(leaf) });
      if (this.accept('(')) {
        const inner = this.or(leaf);
        this.expect(')', ` to close the "(" at line ${t.line}, column ${t.column}`);
        return inner;
      }
      if ((this.is('all') || this.is('any')) && this.is('(', 1)) {
        const kind = this.next().text;
        this.next();
        const items = [this.or(leaf)];
        while (this.accept(',')) items.push(this.or(leaf));
        this.expect(')', ` or "," in ${kind}(...)`);
        return this.at(t, { [kind]: items });
      }
      return leaf();
    });
  }

  /** A name: an identifier that is not a keyword, or a string. */
  name(what: string): string {
    const t = this.peek();
    if (t.kind === 'string' || (t.kind === 'identifier' && !KEYWORDS.has(t.text))) return String(this.next().value);
    if (t.kind === 'identifier') throw syntaxError(t, `expected ${what}, found the keyword ${JSON.stringify(t.text)} (write "${t.text}" in quotes to use it as a name)`);
    throw this.unexpected(what);
  }

  condition(): Node {
    const t = this.peek();
    if (t.kind === 'identifier') {
      switch (t.text) {
        case 'count':
        case 'sum':
        case 'min':
        case 'max':
          if (!this.is('(', 1)) throw this.unexpected(`"(" after ${t.text} (write "${t.text}" in quotes to use it as a trait name)`, this.peek(1));
          return this.aggregate();
        case 'never': {
          this.next();
          const { event, where } = this.subject(false);
          const node: Node = this.at(t, { not_did: event, ...(where === undefined ? {} : { where }) });
          this.window(node);
          return node;
        }
        case 'last':
          return this.recency();
        case 'sequence':
          return this.sequence();
        case 'segment': {
          this.next();
          this.expect('(', ' after segment');
          const id = this.name('a segment id');
          this.expect(')', ' after the segment id');
          return this.at(t, { segment: id });
        }
      }
    }
    if (t.kind !== 'string' && (t.kind !== 'identifier' || KEYWORDS.has(t.text))) {
      throw this.unexpected('a condition (a trait name, count, sum, min, max, never, last, sequence, segment, not or "(")');
    }
    const name = this.name('a trait name');
    return this.fieldTest(this.at(t, { trait: name }), true);
  }

  /** The comparison after a trait or property name, added to `node`. */
  fieldTest(node: Node, relative: boolean): Node {
    const t = this.next();
    const symbol = FIELD_OPERATORS[t.text];
    if (t.kind === 'punctuation' && symbol !== undefined) return Object.assign(node, { op: symbol, value: this.literal() });
    if (t.kind === 'identifier') {
      switch (t.text) {
        case 'in': return Object.assign(node, { op: 'in', value: this.literal() });
        case 'contains': return Object.assign(node, { op: 'contains', value: this.literal() });
        case 'exists': return Object.assign(node, { op: 'exists' });
        case 'not':
          if (this.accept('in')) return Object.assign(node, { op: 'not_in', value: this.literal() });
          if (this.accept('exists')) return Object.assign(node, { op: 'not_exists' });
          throw this.unexpected('"in" or "exists" after "not"');
        case 'between': {
          const low = this.literal();
          this.expect('and', ' between the two bounds');
          return Object.assign(node, { op: 'between', value: [low, this.literal()] });
        }
        case 'before':
        case 'after':
          return Object.assign(node, { op: t.text, ...this.date(relative) });
      }
    }
    throw this.unexpected('a comparison (=, !=, >, >=, <, <=, in, not in, contains, between, exists, not exists, before, after)', t);
  }

  /** `"2024-01-31"`, `1706659200000`, `30 days ago`, `7 days from now`. */
  date(relative: boolean): Node {
    const t = this.peek();
    if (t.kind === 'number' && this.peek(1).kind === 'identifier' && Object.hasOwn(UNIT_WORDS, this.peek(1).text)) {
      const n = this.next().value;
      const unit = UNIT_WORDS[this.next().text] as TimeUnit;
      let rel: Node;
      if (this.accept('ago')) {
        rel = { ago: n, unit };
      } else if (this.accept('from')) {
        this.expect('now', ' after "from"');
        rel = { from_now: n, unit };
      } else {
        throw this.unexpected('"ago" or "from now"');
      }
      if (!relative) throw syntaxError(t, 'relative dates are not allowed on event properties (filters apply when the event arrives)');
      return { relative: this.at(t, rel) };
    }
    return { value: this.literal() };
  }

  /** `(name [.property] [where filter])` of an event-like condition. */
  subject(withProperty: boolean): { event: string; property?: Node; where?: Node } {
    this.expect('(');
    const event = this.name('an event name');
    let property: Node | undefined;
    if (withProperty) {
      this.expect('.', ' between the event and the property, as in sum(Purchase.revenue)');
      const t = this.peek();
      property = this.at(t, { property: this.name('a property name') });
    }
    const where = this.accept('where') ? this.filter() : undefined;
    this.expect(')', where === undefined ? ' or "where"' : '');
    return { event, ...(property === undefined ? {} : { property }), ...(where === undefined ? {} : { where }) };
  }

  filter(): Node {
    return this.or(() => {
      const t = this.peek();
      const name = this.name('a property name');
      return this.fieldTest(this.at(t, { property: name }), false);
    });
  }

  /** `in last N unit` or `from "date" to "date"`, when present. */
  window(node: Node): void {
    const t = this.peek();
    if (this.accept('in')) {
      this.expect('last', ' after "in" (in last 7 days)');
      node['window'] = this.duration();
    } else if (this.accept('from')) {
      const from = this.literal();
      this.expect('to', ' after the start of the range');
      node['window'] = this.at(t, { from, to: this.literal() });
    }
  }

  duration(): Node {
    const n = this.peek();
    if (n.kind !== 'number') throw this.unexpected('a number of minutes, hours, days or weeks');
    this.next();
    const u = this.peek();
    if (u.kind !== 'identifier' || !Object.hasOwn(UNIT_WORDS, u.text)) throw this.unexpected(`a time unit (${TIME_UNITS.join(', ')})`);
    this.next();
    return this.at(n, { last: n.value, unit: UNIT_WORDS[u.text] });
  }

  aggregate(): Node {
    const t = this.next();
    const { event, property, where } = this.subject(t.text !== 'count');
    const node: Node = this.at(t, { event, ...(where === undefined ? {} : { where }) });
    if (property !== undefined) node['aggregate'] = Object.assign(property, { fn: t.text, property: property['property'] });
    this.window(node);
    const c = this.next();
    const op = EVENT_OPERATORS[c.text];
    if (c.kind === 'punctuation' && op !== undefined) return Object.assign(node, { op, value: this.literal() });
    if (c.kind === 'identifier' && c.text === 'between') {
      const low = this.literal();
      this.expect('and', ' between the two bounds');
      return Object.assign(node, { op: 'between', value: [low, this.literal()] });
    }
    throw this.unexpected(`a comparison (>=, >, =, <=, <, between)${node['window'] === undefined ? ' or a window (in last N days, from "date" to "date")' : ''}`, c);
  }

  recency(): Node {
    const t = this.next();
    if (this.accept('seen')) {
      this.expect('within', ' after "last seen"');
      return this.at(t, { recency: { within: this.duration() } });
    }
    if (!this.is('(')) throw this.unexpected('"seen" or "(" after "last"');
    const { event, where } = this.subject(false);
    this.expect('within', ' after last(...)');
    return this.at(t, { recency: { within: this.duration(), event, ...(where === undefined ? {} : { where }) } });
  }

  sequence(): Node {
    const t = this.next();
    this.expect('(', ' after sequence');
    const steps: unknown[] = [];
    do {
      const s = this.peek();
      const event = this.name('an event name');
      steps.push(this.accept('where') ? this.at(s, { event, where: this.filter() }) : event);
    } while (this.accept(','));
    this.expect(')', ' or "," between the steps of the sequence');
    const node: Node = this.at(t, { sequence: steps });
    if (this.accept('within')) node['within'] = this.duration();
    this.window(node);
    return node;
  }

  literal(): Json {
    const t = this.next();
    switch (t.kind) {
      case 'string':
      case 'number':
        return t.value;
      case 'identifier':
        if (t.text === 'true') return true;
        if (t.text === 'false') return false;
        if (t.text === 'null') return null;
        break;
      case 'punctuation':
        if (t.text === '[') {
          return this.nest(t, () => {
            const list: Json[] = [];
            if (this.accept(']')) return list;
            do list.push(this.literal()); while (this.accept(','));
            this.expect(']', ' or "," in the list');
            return list;
          });
        }
        if (t.text === '{') {
          return this.nest(t, () => {
            const object: Record<string, Json> = {};
            if (this.accept('}')) return object;
            do {
              const key = this.next();
              if (key.kind !== 'string') throw this.unexpected('a string key', key);
              this.expect(':', ' after the key');
              Object.defineProperty(object, key.value, { value: this.literal(), enumerable: true, writable: true, configurable: true });
            } while (this.accept(','));
            this.expect('}', ' or "," in the object');
            return object;
          });
        }
        break;
      case 'end':
        break;
    }
    throw this.unexpected('a value (a string, a number, true, false, null, [list] or {object})', t);
  }
}

/**
 * Parses the text form into the same canonical tree the JSON form validates to. Errors are
 * INVALID_ARGUMENT with field `rule` and a message naming line and column.
 */
export function parseRuleText(text: string): Rule {
  if (text.length > RULE_LIMITS.sourceLength) {
    throw new PulseError('INVALID_ARGUMENT', `rule: longer than ${RULE_LIMITS.sourceLength} characters`, { field: 'rule' });
  }
  const parser = new Parser(tokenize(text));
  const tree = parser.whole();
  return validateRule(tree, (node) => parser.positions.get(node));
}

/** A rule in either form: JSON when it starts with `{`, the text form otherwise. */
export function parseRuleSource(source: string): Rule {
  return source.trimStart().startsWith('{') ? parseRule(source) : parseRuleText(source);
}

/** JSON text, with the line separators JSON leaves raw escaped: printed rules stay on one line in logs. */
function printLiteral(value: Json | readonly Json[]): string {
  return JSON.stringify(value).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

function printName(name: string): string {
  return IDENTIFIER.test(name) && !KEYWORDS.has(name) ? name : printLiteral(name);
}

function printDuration(d: Duration): string {
  return `${d.last} ${d.last === 1 ? d.unit.slice(0, -1) : d.unit}`;
}

function printWindow(w: Window | undefined): string {
  if (w === undefined) return '';
  return 'last' in w ? ` in last ${printDuration(w)}` : ` from ${printLiteral(w.from)} to ${printLiteral(w.to)}`;
}

function printRelative(r: RelativeDate): string {
  return 'ago' in r ? `${printDuration({ last: r.ago, unit: r.unit })} ago` : `${printDuration({ last: r.from_now, unit: r.unit })} from now`;
}

const SYMBOLS: Readonly<Record<string, string>> = { eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' };

function printFieldTest(name: string, test: FieldTest | RelativeDateTest): string {
  const subject = printName(name);
  if ('relative' in test) return `${subject} ${test.op} ${printRelative(test.relative)}`;
  switch (test.op) {
    case 'exists': return `${subject} exists`;
    case 'not_exists': return `${subject} not exists`;
    case 'in': return `${subject} in ${printLiteral(test.value)}`;
    case 'not_in': return `${subject} not in ${printLiteral(test.value)}`;
    case 'between': return `${subject} between ${printLiteral(test.value[0])} and ${printLiteral(test.value[1])}`;
    case 'contains':
    case 'before':
    case 'after':
      return `${subject} ${test.op} ${printLiteral(test.value)}`;
    default:
      return `${subject} ${SYMBOLS[test.op] as string} ${printLiteral(test.value)}`;
  }
}

function printSubject(event: string, where: PropertyFilter | undefined, property?: string): string {
  return `(${printName(event)}${property === undefined ? '' : `.${printName(property)}`}${where === undefined ? '' : ` where ${printTree(where, printFilterLeaf, 'top')}`})`;
}

function printFilterLeaf(c: { property: string } & FieldTest): string {
  return printFieldTest(c.property, c);
}

function printStep(s: SequenceStep): string {
  return typeof s === 'string' ? printName(s) : `${printName(s.event)} where ${printTree(s.where, printFilterLeaf, 'top')}`;
}

function printCondition(c: Condition): string {
  if ('trait' in c) return printFieldTest(c.trait, c);
  if ('event' in c) {
    const head = c.aggregate === undefined ? `count${printSubject(c.event, c.where)}` : `${c.aggregate.fn}${printSubject(c.event, c.where, c.aggregate.property)}`;
    const comparison = c.op === 'between' ? `between ${printLiteral(c.value[0])} and ${printLiteral(c.value[1])}` : `${SYMBOLS[c.op] as string} ${printLiteral(c.value)}`;
    return `${head}${printWindow(c.window)} ${comparison}`;
  }
  if ('not_did' in c) return `never${printSubject(c.not_did, c.where)}${printWindow(c.window)}`;
  if ('recency' in c) {
    const r = c.recency;
    return `${r.event === undefined ? 'last seen' : `last${printSubject(r.event, r.where)}`} within ${printDuration(r.within)}`;
  }
  if ('sequence' in c) return `sequence(${c.sequence.map(printStep).join(', ')})${c.within === undefined ? '' : ` within ${printDuration(c.within)}`}${printWindow(c.window)}`;
  return `segment(${printName(c.segment)})`;
}

/** Groups inside another operator are parenthesized; a one-element group prints as all(x) / any(x). */
function printTree<L>(node: BoolTree<L>, leaf: (l: L) => string, context: 'top' | 'inner'): string {
  const n = node as { all?: readonly BoolTree<L>[]; any?: readonly BoolTree<L>[]; not?: BoolTree<L> };
  const group = n.all ?? n.any;
  if (group !== undefined) {
    const kind = n.all !== undefined ? 'all' : 'any';
    if (group.length === 1) return `${kind}(${printTree(group[0] as BoolTree<L>, leaf, 'top')})`;
    const text = group.map((c) => printTree(c, leaf, 'inner')).join(kind === 'all' ? ' and ' : ' or ');
    return context === 'top' ? text : `(${text})`;
  }
  if (n.not !== undefined) return `not ${printTree(n.not, leaf, 'inner')}`;
  return leaf(node as L);
}

/** The text form of a rule (or of one condition); parseRuleText gives the same tree back. */
export function printRule(rule: Rule): string {
  return printTree(rule, printCondition, 'top');
}

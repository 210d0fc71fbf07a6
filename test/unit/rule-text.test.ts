import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { parseRule, validateRule, type Rule } from '../../src/segments/rule.ts';
import { KEYWORDS, parseRuleSource, parseRuleText, printRule } from '../../src/segments/rule-text.ts';
import { Generator } from './rule-generator.ts';

function textError(text: string): string {
  try {
    parseRuleText(text);
  } catch (err) {
    if (err instanceof PulseError) {
      if (err.code !== 'INVALID_ARGUMENT' || err.field !== 'rule') throw new Error(`unexpected ${err.code} ${err.field}`);
      return err.message;
    }
    throw err;
  }
  throw new Error(`accepted: ${text}`);
}

void t.test('the example from the issue', async (t) => {
  const text = 'plan = "pro" and (count(Purchase where category = "shoes") in last 7 days >= 2 or sum(Purchase.revenue) in last 30 days >= 100) and not segment(churned)';
  const tree = {
    all: [
      { trait: 'plan', op: 'eq', value: 'pro' },
      {
        any: [
          { event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, window: { last: 7, unit: 'days' }, op: 'gte', value: 2 },
          { event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: { last: 30, unit: 'days' }, op: 'gte', value: 100 },
        ],
      },
      { not: { segment: 'churned' } },
    ],
  };
  t.strictSame(parseRuleText(text), tree);
  t.equal(printRule(parseRule(JSON.stringify(tree))), text, 'the JSON form prints as the text');
});

/** Canonical text and the tree it stands for: parse gives the tree, print gives the text back exactly. */
const FORMS: [string, unknown][] = [
  ['plan = "pro"', { trait: 'plan', op: 'eq', value: 'pro' }],
  ['plan != null', { trait: 'plan', op: 'neq', value: null }],
  ['age > 17', { trait: 'age', op: 'gt', value: 17 }],
  ['age >= -1.5', { trait: 'age', op: 'gte', value: -1.5 }],
  ['age < 1e+21', { trait: 'age', op: 'lt', value: 1e21 }],
  ['name <= "m"', { trait: 'name', op: 'lte', value: 'm' }],
  ['plan in ["pro","team"]', { trait: 'plan', op: 'in', value: ['pro', 'team'] }],
  ['plan not in [1,true,null,{"a":[]}]', { trait: 'plan', op: 'not_in', value: [1, true, null, { a: [] }] }],
  ['tags contains "vip"', { trait: 'tags', op: 'contains', value: 'vip' }],
  ['age between 18 and 30', { trait: 'age', op: 'between', value: [18, 30] }],
  ['code between "a" and "f"', { trait: 'code', op: 'between', value: ['a', 'f'] }],
  ['email exists', { trait: 'email', op: 'exists' }],
  ['email not exists', { trait: 'email', op: 'not_exists' }],
  ['signup_at before "2024-01-31"', { trait: 'signup_at', op: 'before', value: '2024-01-31' }],
  ['signup_at after 1706659200000', { trait: 'signup_at', op: 'after', value: 1706659200000 }],
  ['signup_at before 30 days ago', { trait: 'signup_at', op: 'before', relative: { ago: 30, unit: 'days' } }],
  ['signup_at after 1 week ago', { trait: 'signup_at', op: 'after', relative: { ago: 1, unit: 'weeks' } }],
  ['trial_ends before 0 minutes ago', { trait: 'trial_ends', op: 'before', relative: { ago: 0, unit: 'minutes' } }],
  ['renews_at before 7 days from now', { trait: 'renews_at', op: 'before', relative: { from_now: 7, unit: 'days' } }],
  ['renews_at after 1 hour from now', { trait: 'renews_at', op: 'after', relative: { from_now: 1, unit: 'hours' } }],
  ['profile = {"tier":"gold","n":[1,2]}', { trait: 'profile', op: 'eq', value: { tier: 'gold', n: [1, 2] } }],
  ['count(Purchase) >= 2', { event: 'Purchase', op: 'gte', value: 2 }],
  ['count(Purchase) in last 7 days > 2', { event: 'Purchase', window: { last: 7, unit: 'days' }, op: 'gt', value: 2 }],
  ['count(Purchase) in last 1 minute = 1', { event: 'Purchase', window: { last: 1, unit: 'minutes' }, op: 'eq', value: 1 }],
  ['count($page) in last 2 weeks <= 3', { event: '$page', window: { last: 2, unit: 'weeks' }, op: 'lte', value: 3 }],
  ['count(Purchase) from "2024-01-01" to "2024-02-01T00:00:00Z" < 5', { event: 'Purchase', window: { from: '2024-01-01', to: '2024-02-01T00:00:00Z' }, op: 'lt', value: 5 }],
  ['count(Purchase) between 2 and 5', { event: 'Purchase', op: 'between', value: [2, 5] }],
  ['count(Purchase where category = "shoes" and price > 50) in last 30 days >= 1',
    { event: 'Purchase', where: { all: [{ property: 'category', op: 'eq', value: 'shoes' }, { property: 'price', op: 'gt', value: 50 }] }, window: { last: 30, unit: 'days' }, op: 'gte', value: 1 }],
  ['sum(Purchase.revenue) in last 30 days >= 100', { event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: { last: 30, unit: 'days' }, op: 'gte', value: 100 }],
  ['min(Purchase.price where currency = "EUR") < 9.99', { event: 'Purchase', where: { property: 'currency', op: 'eq', value: 'EUR' }, aggregate: { fn: 'min', property: 'price' }, op: 'lt', value: 9.99 }],
  ['max("Order Completed"."total value") in last 1 hour between 10 and 20', { event: 'Order Completed', aggregate: { fn: 'max', property: 'total value' }, window: { last: 1, unit: 'hours' }, op: 'between', value: [10, 20] }],
  ['sum(Purchase.revenue) = 0', { event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, op: 'eq', value: 0 }],
  ['never(Purchase) in last 30 days', { not_did: 'Purchase', window: { last: 30, unit: 'days' } }],
  ['never(Purchase where category in ["shoes"])', { not_did: 'Purchase', where: { property: 'category', op: 'in', value: ['shoes'] } }],
  ['last seen within 3 days', { recency: { within: { last: 3, unit: 'days' } } }],
  ['last(Purchase) within 1 day', { recency: { within: { last: 1, unit: 'days' }, event: 'Purchase' } }],
  ['last(Purchase where not test exists) within 12 hours', { recency: { within: { last: 12, unit: 'hours' }, event: 'Purchase', where: { not: { property: 'test', op: 'exists' } } } }],
  ['sequence("Add To Cart", Purchase) within 1 hour', { sequence: ['Add To Cart', 'Purchase'], within: { last: 1, unit: 'hours' } }],
  ['sequence(View, "Add To Cart" where sku exists, Purchase) within 2 hours in last 30 days',
    { sequence: ['View', { event: 'Add To Cart', where: { property: 'sku', op: 'exists' } }, 'Purchase'], within: { last: 2, unit: 'hours' }, window: { last: 30, unit: 'days' } }],
  ['sequence(A, B)', { sequence: ['A', 'B'] }],
  ['sequence(A, B) from "2024-01-01" to "2024-01-02"', { sequence: ['A', 'B'], window: { from: '2024-01-01', to: '2024-01-02' } }],
  ['segment(churned)', { segment: 'churned' }],
  ['segment("pro-buyers")', { segment: 'pro-buyers' }],
  ['segment("0")', { segment: '0' }],
  ['a = 1 and b = 2 and c = 3', { all: [{ trait: 'a', op: 'eq', value: 1 }, { trait: 'b', op: 'eq', value: 2 }, { trait: 'c', op: 'eq', value: 3 }] }],
  ['a = 1 or (b = 2 and c = 3)', { any: [{ trait: 'a', op: 'eq', value: 1 }, { all: [{ trait: 'b', op: 'eq', value: 2 }, { trait: 'c', op: 'eq', value: 3 }] }] }],
  ['a = 1 and (b = 2 and c = 3)', { all: [{ trait: 'a', op: 'eq', value: 1 }, { all: [{ trait: 'b', op: 'eq', value: 2 }, { trait: 'c', op: 'eq', value: 3 }] }] }],
  ['(a = 1 or b = 2) or c = 3', { any: [{ any: [{ trait: 'a', op: 'eq', value: 1 }, { trait: 'b', op: 'eq', value: 2 }] }, { trait: 'c', op: 'eq', value: 3 }] }],
  ['not a exists', { not: { trait: 'a', op: 'exists' } }],
  ['not not a exists', { not: { not: { trait: 'a', op: 'exists' } } }],
  ['not (a exists or b exists)', { not: { any: [{ trait: 'a', op: 'exists' }, { trait: 'b', op: 'exists' }] } }],
  ['all(a exists)', { all: [{ trait: 'a', op: 'exists' }] }],
  ['not any(a exists)', { not: { any: [{ trait: 'a', op: 'exists' }] } }],
  ['count(E where all(x = 1)) >= 1', { event: 'E', where: { all: [{ property: 'x', op: 'eq', value: 1 }] }, op: 'gte', value: 1 }],
  ['"first name" = "Ann"', { trait: 'first name', op: 'eq', value: 'Ann' }],
  ['"count" = 3', { trait: 'count', op: 'eq', value: 3 }],
  ['"and" exists', { trait: 'and', op: 'exists' }],
  ['"a\\"b\\\\c\\n" = "\\u0001"', { trait: 'a"b\\c\n', op: 'eq', value: '\u0001' }],
  ['"é" = "😀"', { trait: 'é', op: 'eq', value: '😀' }],
  ['"\\u2028" = "a\\u2029b"', { trait: '\u2028', op: 'eq', value: 'a\u2029b' }],
  ['$x = true and _y = false', { all: [{ trait: '$x', op: 'eq', value: true }, { trait: '_y', op: 'eq', value: false }] }],
];

void t.test('every form parses to its tree and prints back exactly', async (t) => {
  for (const [text, tree] of FORMS) {
    t.strictSame(parseRuleText(text), tree, `parse ${text}`);
    t.equal(printRule(validateRule(tree)), text, `print ${text}`);
  }
});

void t.test('sugar and spacing read the same; printing is canonical', async (t) => {
  const same: [string, string][] = [
    ['count(Purchase) in last 30 days = 0', 'never(Purchase) in last 30 days'],
    ['count(Purchase where x = 1) = 0', 'never(Purchase where x = 1)'],
    ['count(Purchase) in last 1 days >= 1', 'count(Purchase) in last 1 day >= 1'],
    ['count(Purchase) in last 3 hour >= 1', 'count(Purchase) in last 3 hours >= 1'],
    ['x before 1 minutes ago', 'x before 1 minute ago'],
    ['all(a = 1, b = 2)', 'a = 1 and b = 2'],
    ['any(a = 1, b = 2, all(c = 3))', 'a = 1 or b = 2 or all(c = 3)'],
    ['((a = 1))', 'a = 1'],
    ['(a = 1) and (not (b = 2))', 'a = 1 and not b = 2'],
    ['a=1and b=2', 'a = 1 and b = 2'],
    ['  plan\n  =\t"pro"\r\n', 'plan = "pro"'],
    ['x = "\\/"', 'x = "/"'],
    ['x = "\\u00e9"', 'x = "é"'],
    ['x = 1.50', 'x = 1.5'],
    ['x = 1E3', 'x = 1000'],
    ['x = -0.0e0', 'x = 0'],
    ['sequence(A where x = 1 or y = 2, B)', 'sequence(A where x = 1 or y = 2, B)'],
  ];
  for (const [text, canonical] of same) {
    t.equal(printRule(parseRuleText(text)), canonical, text);
    t.equal(printRule(parseRuleText(canonical)), canonical, `${canonical} is stable`);
  }
});

void t.test('precedence: not binds tighter than and, and tighter than or', async (t) => {
  const [a, b, c] = ['a', 'b', 'c'].map((trait) => ({ trait, op: 'exists' }));
  t.strictSame(parseRuleText('a exists or b exists and c exists'), { any: [a, { all: [b, c] }] });
  t.strictSame(parseRuleText('a exists and b exists or c exists'), { any: [{ all: [a, b] }, c] });
  t.strictSame(parseRuleText('not a exists and b exists'), { all: [{ not: a }, b] });
  t.strictSame(parseRuleText('not a exists or not b exists'), { any: [{ not: a }, { not: b }] });
  t.strictSame(parseRuleText('not (a exists and b exists) or c exists'), { any: [{ not: { all: [a, b] } }, c] });
  t.strictSame(parseRuleText('a exists and (b exists or c exists)'), { all: [a, { any: [b, c] }] });
  t.strictSame(parseRuleText('age between 1 and 2 and plan exists'), { all: [{ trait: 'age', op: 'between', value: [1, 2] }, { trait: 'plan', op: 'exists' }] }, 'between takes its own "and"');
  t.strictSame(parseRuleText('count(E where a exists or b exists and c exists) >= 1'),
    { event: 'E', where: { any: [{ property: 'a', op: 'exists' }, { all: [{ property: 'b', op: 'exists' }, { property: 'c', op: 'exists' }] }] }, op: 'gte', value: 1 });
  t.equal(printRule(parseRuleText('a exists and b exists or c exists')), '(a exists and b exists) or c exists', 'and inside or is parenthesized for the reader');
});

void t.test('names: keywords and non-identifiers print quoted', async (t) => {
  for (const word of KEYWORDS) {
    const text = `"${word}" = 1`;
    t.equal(printRule(parseRuleText(text)), text, word);
    t.match(textError(`${word} = 1`), /^rule: line 1, column \d+: expected /, `${word} bare is refused`);
  }
  t.equal(textError('count = 1'), 'rule: line 1, column 7: expected "(" after count (write "count" in quotes to use it as a trait name), found "="');
  t.equal(textError('days = 1'), 'rule: line 1, column 1: expected a condition (a trait name, count, sum, min, max, never, last, sequence, segment, not or "("), found "days"');
  t.equal(textError('count(where) > 1'), 'rule: line 1, column 7: expected an event name, found the keyword "where" (write "where" in quotes to use it as a name)');
  t.equal(printRule(parseRuleText('"plain" = 1')), 'plain = 1', 'quotes are dropped when not needed');
  t.equal(printRule(parseRuleText('count("x.y") > 1')), 'count("x.y") > 1', 'a dot needs quotes');
});

const ERRORS: [string, string][] = [
  ['', 'line 1, column 1: expected a condition (a trait name, count, sum, min, max, never, last, sequence, segment, not or "("), found end of input'],
  ['plan = ', 'line 1, column 8: expected a value (a string, a number, true, false, null, [list] or {object}), found end of input'],
  ['plan == 1', 'line 1, column 7: expected a value (a string, a number, true, false, null, [list] or {object}), found "="'],
  ['plan is "pro"', 'line 1, column 6: expected a comparison (=, !=, >, >=, <, <=, in, not in, contains, between, exists, not exists, before, after), found "is"'],
  ['plan', 'line 1, column 5: expected a comparison (=, !=, >, >=, <, <=, in, not in, contains, between, exists, not exists, before, after), found end of input'],
  ['plan not = 1', 'line 1, column 10: expected "in" or "exists" after "not", found "="'],
  ['age between 1 or 2', 'line 1, column 15: expected "and" between the two bounds, found "or"'],
  ['a = 1 b = 2', 'line 1, column 7: expected "and", "or" or the end of the rule, found "b"'],
  ['a = 1 and', 'line 1, column 10: expected a condition (a trait name, count, sum, min, max, never, last, sequence, segment, not or "("), found end of input'],
  ['(a = 1', 'line 1, column 7: expected ")" to close the "(" at line 1, column 1, found end of input'],
  ['a = 1)', 'line 1, column 6: expected "and", "or" or the end of the rule, found ")"'],
  ['all(a = 1; b = 2)', 'line 1, column 10: unexpected character ";"'],
  ['all(a = 1 b = 2)', 'line 1, column 11: expected ")" or "," in all(...), found "b"'],
  ['a = "open', 'line 1, column 5: unterminated string'],
  ['a = "two\nlines"', 'line 1, column 5: unterminated string'],
  ['a = "x\\q"', 'line 1, column 7: bad escape \\q (allowed: \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)'],
  ['a = "\\u12"', 'line 1, column 6: bad escape: \\u needs 4 hex digits'],
  ['a = 1e999', 'line 1, column 5: number out of range: 1e999'],
  ['a = @', 'line 1, column 5: unexpected character "@"'],
  ['a = !1', 'line 1, column 5: unexpected character "!"'],
  ['a = [1, 2', 'line 1, column 10: expected "]" or "," in the list, found end of input'],
  ['a = [1,]', 'line 1, column 8: expected a value (a string, a number, true, false, null, [list] or {object}), found "]"'],
  ['a = {x: 1}', 'line 1, column 6: expected a string key, found "x"'],
  ['a = {"x" 1}', 'line 1, column 10: expected ":" after the key, found "1"'],
  ['a = {"x": 1', 'line 1, column 12: expected "}" or "," in the object, found end of input'],
  ['a = yes', 'line 1, column 5: expected a value (a string, a number, true, false, null, [list] or {object}), found "yes"'],
  ['a before 3 days', 'line 1, column 16: expected "ago" or "from now", found end of input'],
  ['a before 3 days from today', 'line 1, column 22: expected "now" after "from", found "today"'],
  ['count Purchase >= 1', 'line 1, column 7: expected "(" after count (write "count" in quotes to use it as a trait name), found "Purchase"'],
  ['count(Purchase >= 1', 'line 1, column 16: expected ")" or "where", found ">="'],
  ['count(Purchase where x = 1 >= 1', 'line 1, column 28: expected ")", found ">="'],
  ['count(Purchase) in 7 days >= 1', 'line 1, column 20: expected "last" after "in" (in last 7 days), found "7"'],
  ['count(Purchase) in last days >= 1', 'line 1, column 25: expected a number of minutes, hours, days or weeks, found "days"'],
  ['count(Purchase) in last 7 dayz >= 1', 'line 1, column 27: expected a time unit (minutes, hours, days, weeks), found "dayz"'],
  ['count(Purchase) in last 7 days', 'line 1, column 31: expected a comparison (>=, >, =, <=, <, between), found end of input'],
  ['count(Purchase) != 1', 'line 1, column 17: expected a comparison (>=, >, =, <=, <, between) or a window (in last N days, from "date" to "date"), found "!="'],
  ['count(Purchase) from "2024-01-01" >= 1', 'line 1, column 35: expected "to" after the start of the range, found ">="'],
  ['sum(Purchase) >= 1', 'line 1, column 13: expected "." between the event and the property, as in sum(Purchase.revenue), found ")"'],
  ['never Purchase', 'line 1, column 7: expected "(", found "Purchase"'],
  ['last Purchase within 3 days', 'line 1, column 6: expected "seen" or "(" after "last", found "Purchase"'],
  ['last seen 3 days', 'line 1, column 11: expected "within" after "last seen", found "3"'],
  ['last(Purchase) 3 days', 'line 1, column 16: expected "within" after last(...), found "3"'],
  ['sequence(A B)', 'line 1, column 12: expected ")" or "," between the steps of the sequence, found "B"'],
  ['sequence A, B', 'line 1, column 10: expected "(" after sequence, found "A"'],
  ['segment(a', 'line 1, column 10: expected ")" after the segment id, found end of input'],
  ['count(E where x before 3 days ago) >= 1', 'line 1, column 24: relative dates are not allowed on event properties (filters apply when the event arrives)'],
  ['a = 1 and\n  (b = 2 or\n   c ~ 3)', 'line 3, column 6: unexpected character "~"'],
  ['a = 1 and\n\n    sum(P.r) in last 0 days > 1', 'line 3, column 22: rule.all[1].window.last: must be an integer from 1 to 10000'],
  ['count(P) in last 1.5 days > 1', 'line 1, column 18: rule.window.last: must be an integer from 1 to 10000'],
  ['count(P) > 1.5', 'line 1, column 1: rule.value: must be an integer >= 0'],
  ['count(P) between 3 and 1', 'line 1, column 1: rule.value: must be [low, high]: two integers >= 0, low <= high'],
  ['count(P) from "2024-02-01" to "2024-01-01" > 1', 'line 1, column 10: rule.window.to: must be later than from'],
  ['count(P) from 1 to 2 > 1', 'line 1, column 10: rule.window.from: must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z)'],
  ['x before "someday"', 'line 1, column 1: rule.value: must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z) or epoch milliseconds'],
  ['x after 0 days from now', 'line 1, column 9: rule.relative.from_now: must be an integer from 1 to 10000'],
  ['a = 1 or x in []', 'line 1, column 10: rule.any[1].value: must be a list of 1 to 1000 JSON values'],
  ['x in "a"', 'line 1, column 1: rule.value: must be a list of 1 to 1000 JSON values'],
  ['x > [1]', 'line 1, column 1: rule.value: must be a number or a string'],
  ['sequence(A)', 'line 1, column 1: rule.sequence: must be a list of 2 to 8 steps'],
  ['segment(Churned)', 'line 1, column 1: rule.segment: must be a segment id matching ^[a-z0-9][a-z0-9_-]{0,63}$'],
  ['last seen within 0 days', 'line 1, column 18: rule.recency.within.last: must be an integer from 1 to 10000'],
  ['never(P where y > true)', 'line 1, column 15: rule.where.value: must be a number or a string'],
];

void t.test('errors name line, column and what was expected', async (t) => {
  for (const [text, message] of ERRORS) t.equal(textError(text), `rule: ${message}`, JSON.stringify(text));
});

void t.test('limits: nesting, size, length', async (t) => {
  t.equal(textError(`${'('.repeat(70)}a = 1${')'.repeat(70)}`), 'rule: line 1, column 65: nested more than 64 levels');
  t.equal(textError(`a = ${'['.repeat(70)}${']'.repeat(70)}`), 'rule: line 1, column 68: nested more than 64 levels');
  t.equal(textError(`${'not '.repeat(17)}a exists`), `rule: line 1, column 69: rule${'.not'.repeat(17)}: nested deeper than 16`);
  t.doesNotThrow(() => parseRuleText(`${'not '.repeat(16)}a exists`));
  const many = Array.from({ length: 257 }, (_, i) => `t${i} exists`).join(' or ');
  t.equal(textError(many), `rule: line 1, column ${many.indexOf('t255 ') + 1}: rule.any[255]: more than 256 conditions`, 'at the condition past the limit');
  t.equal(textError(`a = "${'x'.repeat(70_000)}"`), 'rule: longer than 65536 characters');
  t.equal(textError(`"${'n'.repeat(257)}" exists`), 'rule: line 1, column 1: rule.trait: must be a trait name (1-256 characters)');
});

void t.test('object keys are plain data, even __proto__', async (t) => {
  const rule = parseRuleText('x = {"__proto__": {"polluted": true}}') as { value: Record<string, unknown> };
  t.ok(Object.hasOwn(rule.value, '__proto__'), 'an own key');
  t.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
  t.equal(printRule(rule as unknown as Rule), 'x = {"__proto__":{"polluted":true}}');
});

void t.test('round trip on generated trees: parse(print(tree)) deep-equals tree', async (t) => {
  let trees = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const raw = new Generator(seed).rule();
    const tree = validateRule(raw);
    t.strictSame(tree, raw, `seed ${seed}: the generated tree is canonical`);
    const text = printRule(tree);
    t.strictSame(parseRuleText(text), tree, `seed ${seed}: parse(print(tree))`);
    t.equal(printRule(parseRuleText(text)), text, `seed ${seed}: print is stable`);
    t.strictSame(parseRule(JSON.stringify(tree)), tree, `seed ${seed}: the JSON form round-trips too`);
    trees++;
  }
  t.equal(trees, 600);
});

void t.test('parseRuleSource: JSON when it starts with {, text otherwise', async (t) => {
  t.strictSame(parseRuleSource('  {"trait":"plan","op":"exists"}'), { trait: 'plan', op: 'exists' });
  t.strictSame(parseRuleSource('plan exists'), { trait: 'plan', op: 'exists' });
  t.match(textErrorOf(() => parseRuleSource('{"trait":')), /^rule: not valid JSON/);
  t.equal(textErrorOf(() => parseRuleSource('[1]')), 'rule: line 1, column 1: expected a condition (a trait name, count, sum, min, max, never, last, sequence, segment, not or "("), found "["');
});

function textErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof PulseError) return err.message;
    throw err;
  }
  throw new Error('accepted');
}

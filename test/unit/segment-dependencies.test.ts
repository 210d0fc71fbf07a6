import t from 'tap';
import { definitionsFingerprint, dependencyIndex } from '../../src/segments/dependencies.ts';
import { compile, type SegmentDefinition } from '../../src/segments/model.ts';

const def = (id: string, rule: string): SegmentDefinition => ({ id, name: id, rule, createdAt: 0 });
const defs = [
  def('pro', 'plan = "pro"'),
  def('buyer', 'sum(Purchase.revenue where currency = "EUR") in last 7 days >= 100'),
  def('pro_buyer', 'segment(pro) and segment(buyer)'),
  def('vip', 'segment(pro_buyer) or vip = true'),
  def('active', 'last seen within 30 days'),
  def('churning', 'never(Login) in last 14 days and last(Visit) within 7 days'),
  def('funnel', 'sequence(View, Cart where step = 1, Purchase) within 1 hours'),
];
const index = dependencyIndex(compile(defs));
const ids = (changes: Parameters<typeof index.affected>[0]) => index.affected(changes).map((s) => s.id);

void t.test('an event affects the segments reading its name or the traits it set, and those referring to them', async (t) => {
  t.same(ids([{ event: 'Purchase', traits: [] }]), ['buyer', 'pro_buyer', 'vip', 'active', 'funnel'], 'Purchase: its feature, the sequence, the references, recency of any event');
  t.same(ids([{ event: '$identify', traits: ['plan'] }]), ['pro', 'pro_buyer', 'vip', 'active']);
  t.same(ids([{ event: '$identify', traits: ['vip'] }]), ['vip', 'active']);
  t.same(ids([{ event: 'Login', traits: [] }]), ['active', 'churning'], 'not-did reads its event');
  t.same(ids([{ event: 'Visit', traits: [] }, { event: 'Cart', traits: [] }]), ['active', 'churning', 'funnel'], 'several events: the union, in definition order');
  t.same(ids([]), ['active'], 'nothing changed but the last-seen time');
  t.same(dependencyIndex(compile([def('plan', 'plan = "pro"')])).affected([{ event: 'Visit', traits: [] }]), [], 'nothing to evaluate');
});

void t.test('the definitions fingerprint changes with any rule or id, not with order or names', async (t) => {
  const base = definitionsFingerprint(defs);
  t.equal(definitionsFingerprint([...defs].reverse()), base);
  t.equal(definitionsFingerprint(defs.map((d) => ({ ...d, name: `${d.name}!` }))), base);
  t.not(definitionsFingerprint([...defs.slice(1), def('pro', 'plan = "free"')]), base);
  t.not(definitionsFingerprint(defs.slice(1)), base);
  t.match(base, /^[0-9a-f]{16}$/);
});

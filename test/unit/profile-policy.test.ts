import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { acceptEvents } from '../../src/collection/publisher.ts';
import { loadConfig, type ConfigError } from '../../src/config/config.ts';
import { throughMerges, type Applied } from '../../src/profiles/model.ts';
import {
  computedWrites, decodeComputed, eventSource, NO_POLICY, parseIdentityLimits, parseProfilePolicies, policyFor, policyTable, traitWrites,
  type TenantProfilePolicy,
} from '../../src/profiles/policy.ts';
import { updateEvent } from '../../src/profiles/update.ts';

function ev(over: Partial<PulseEvent>): PulseEvent {
  return {
    type: 'track', messageId: 'm', timestamp: 0, userId: 'u', anonymousId: undefined, event: 'Buy',
    properties: {}, traits: {}, context: {}, identifiers: [{ type: 'user_id', id: 'u' }], extra: {}, ...over,
  };
}

void t.test('parseProfilePolicies reads tenants, "*", trait policies and computed traits', async (t) => {
  const r = parseProfilePolicies(JSON.stringify({
    acme: { name: { policy: 'priority', priority: ['crm', 'web'] }, tags: { policy: 'add_to_set' }, computed: { ltv: { sum: 'revenue', event: 'Order Completed' }, top: { mostFrequent: 'category' } } },
    '*': { plan: { policy: 'first' } },
  }));
  t.ok(r.ok);
  if (!r.ok) return;
  const acme = policyFor(r.policies, 'acme');
  t.same(acme.traits, { name: { policy: 'priority', priority: ['crm', 'web'] }, tags: { policy: 'add_to_set', priority: [] } });
  t.same(acme.computed, { ltv: { kind: 'sum', property: 'revenue', event: 'Order Completed' }, top: { kind: 'mostFrequent', property: 'category', event: undefined } });
  t.same(policyFor(r.policies, 'other').traits, { plan: { policy: 'first', priority: [] } }, '"*" for tenants without an entry');
  t.equal(policyFor(new Map(), 'x'), NO_POLICY, 'no configuration: last-write-wins');
});

void t.test('parseProfilePolicies reports every problem with its path', async (t) => {
  const r = parseProfilePolicies(JSON.stringify({
    'Bad Tenant': {},
    acme: {
      a: { policy: 'newest' },
      b: { policy: 'priority' },
      c: { policy: 'max', priority: ['crm'] },
      d: { policy: 'priority', priority: ['crm', 'CRM!'] },
      e: 'lww',
      'f|g': { policy: 'lww' },
      h: { policy: 'lww', extra: 1 },
      computed: { x: { sum: 'a', mostFrequent: 'b' }, y: { sum: '' }, z: { sum: 'v', event: 3 } },
    },
    beta: [],
  }));
  t.notOk(r.ok);
  if (r.ok) return;
  t.same(r.problems, [
    'Bad Tenant: not a tenant name or "*"',
    'acme.a.policy: must be one of lww, first, priority, max, min, add_to_set, increment',
    'acme.b.priority: a list of 1-99 sources, most trusted first (e.g. ["crm", "web"])',
    'acme.c.priority: only for policy "priority"',
    'acme.d.priority[1]: a source name matching ^[a-z0-9][a-z0-9_.-]{0,63}$',
    'acme.e: must be {"policy": "lww"|"first"|"priority"|"max"|"min"|"add_to_set"|"increment"}',
    'acme.f|g: trait names are 1-128 characters without "|" or control characters',
    'acme.h.extra: unknown field (known: policy, priority)',
    'acme.computed.x: exactly one of "sum" or "mostFrequent"',
    'acme.computed.y.sum: a property name',
    'acme.computed.z.event: a non-empty event name',
    'beta: must be an object of trait policies',
  ]);
  t.same(parseProfilePolicies('{').ok, false);
  t.same(parseProfilePolicies('[]'), { ok: false, problems: ['must be an object keyed by tenant (or "*")'] });
});

void t.test('parseIdentityLimits', async (t) => {
  t.same(parseIdentityLimits('{"user_id":1,"email_sha256":3}'), { ok: true, perType: { user_id: 1, email_sha256: 3 } });
  t.same(parseIdentityLimits('{"user_id":0,"Bad Type":2}'), { ok: false, problems: ['user_id: the limit must be an integer from 1 to 10000', 'Bad Type: not an identifier type'] });
});

const policy: TenantProfilePolicy = {
  traits: {
    name: { policy: 'priority', priority: ['crm', 'web'] }, score: { policy: 'max', priority: [] },
    tags: { policy: 'add_to_set', priority: [] }, logins: { policy: 'increment', priority: [] },
  },
  computed: { ltv: { kind: 'sum', property: 'revenue', event: 'Order Completed' }, top: { kind: 'mostFrequent', property: 'category', event: undefined } },
};

void t.test('policyTable and traitWrites encode what apply-event.lua reads', async (t) => {
  t.same(policyTable(policy), ['4', 'name', 'prio', 'crm\nweb', 'score', 'max', '', 'tags', 'set', '', 'logins', 'incr', '']);
  t.same(traitWrites(policy, { name: 'Ann', score: 7, tags: ['a', 'b', 'a'], logins: 2.5, plan: { tier: 1 } }), [
    'name', '"Ann"', 'score', '7', 'tags', '"a"\n"b"', 'logins', '2500000', 'plan', '{"tier":1}',
  ]);
  t.same(traitWrites(policy, { score: 'high', logins: '3', tags: [], ltv: 5 }), [], 'values a policy cannot use are dropped; computed names are not writable');
  t.same(traitWrites(policy, { tags: 'x\ny' }), ['tags', '"x\\ny"'], 'a newline inside a value stays escaped');
});

void t.test('computedWrites, decodeComputed and eventSource', async (t) => {
  t.same(computedWrites(policy, ev({ event: 'Order Completed', properties: { revenue: 19.99, category: 'hats' } })), ['s', 'ltv', '19990000', 'm', 'top', 'hats']);
  t.same(computedWrites(policy, ev({ event: 'Viewed', properties: { revenue: 5, category: 3 } })), ['m', 'top', '3'], 'sum only for its event');
  t.same(computedWrites(policy, ev({ event: 'Order Completed', properties: { revenue: '5' } })), [], 'numeric strings are not numbers');
  t.same(decodeComputed({ 's|ltv': '29990000', 'm|top|hats': '2', 'm|top|bags': '2', 'm|top|a|b': '1' }), { ltv: 29.99, top: 'bags' }, 'ties go to the smaller value');
  t.equal(eventSource(ev({ context: { source: 'CRM', channel: 'web' } })), 'crm');
  t.equal(eventSource(ev({ context: { channel: 'web' } })), 'web');
  t.equal(eventSource(ev({})), '');
});

void t.test('throughMerges points every result at the final survivor', async (t) => {
  const a = (profileId: string, merges: Applied['merges'] = []): Applied => ({ profileId, version: 1, duplicate: false, traitChanges: [], merges, refused: [] });
  const out = throughMerges([a('L1'), a('L2', [{ survivor: 'L2', merged: 'X', identifiers: [] }]), a('S', [{ survivor: 'S', merged: 'L1', identifiers: [] }, { survivor: 'S', merged: 'L2', identifiers: [] }]), a('Z')]);
  t.same(out.map((r) => r.profileId), ['S', 'S', 'S', 'Z']);
});

void t.test('updateEvent is an identify the collectors accept, with provenance in the context', async (t) => {
  const e = updateEvent([{ type: 'user_id', id: 'u1' }, { type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }, { type: 'anonymous_id', id: 'a1' }], { plan: 'pro' }, 'crm', 'key123', 'update-1', Date.UTC(2026, 0, 1));
  t.same(e, {
    type: 'identify', messageId: 'update-1', timestamp: '2026-01-01T00:00:00.000Z', traits: { plan: 'pro' },
    context: { source: 'crm', keyId: 'key123', externalIds: [{ type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }] }, userId: 'u1', anonymousId: 'a1',
  });
  const accepted = acceptEvents([e], Date.UTC(2026, 0, 1));
  t.same(accepted.rejected, []);
  t.equal(accepted.accepted.length, 1);
});

void t.test('loadConfig reads PULSE_TRAIT_POLICIES, PULSE_IDENTITY_LIMITS and PULSE_MAX_IDENTIFIERS, reporting every problem', async (t) => {
  const ok = loadConfig({
    PULSE_TRAIT_POLICIES: '{"acme":{"plan":{"policy":"first"}}}', PULSE_IDENTITY_LIMITS: '{"user_id":2}', PULSE_MAX_IDENTIFIERS: '50',
  });
  t.same(policyFor(ok.profilePolicies, 'acme').traits, { plan: { policy: 'first', priority: [] } });
  t.same(ok.identityLimits, { perType: { user_id: 2 }, maxIdentifiers: 50 });
  t.same(loadConfig({}).identityLimits, { perType: { user_id: 1 }, maxIdentifiers: 100 }, 'defaults: one user_id, 100 identifiers');
  try {
    loadConfig({ PULSE_TRAIT_POLICIES: '{"acme":{"plan":{"policy":"newest"}}}', PULSE_IDENTITY_LIMITS: '{"user_id":0}', PULSE_MAX_IDENTIFIERS: '0' });
    t.fail('should throw');
  } catch (err) {
    t.same((err as ConfigError).problems, [
      'PULSE_TRAIT_POLICIES: acme.plan.policy: must be one of lww, first, priority, max, min, add_to_set, increment',
      'PULSE_IDENTITY_LIMITS: user_id: the limit must be an integer from 1 to 10000',
      'PULSE_MAX_IDENTIFIERS: must be an integer from 1 to 10000 (got "0")',
    ]);
  }
});

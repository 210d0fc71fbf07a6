import t from 'tap';
import { parseIdentifierKey, type Identifier } from '../../src/identity/identifier.ts';
import {
  guardrailRefusal, isOlder, planIdentity, splitApart, typeCounts, type IdentityPlan, type IdentityWorld,
} from '../../src/profiles/identity-plan.ts';
import { DEFAULT_IDENTITY_LIMITS, type IdentityLimits } from '../../src/profiles/policy.ts';

// Identifiers are written `type:id` (identifierKey form) throughout.
const i = (key: string): Identifier => parseIdentifierKey(key);

interface Profile { readonly created?: number; readonly ids: readonly string[]; readonly nomerge?: readonly string[]; readonly merged?: readonly string[] }

/** A consistent world: every identifier a profile holds resolves to it. */
function world(profiles: Readonly<Record<string, Profile>>): IdentityWorld {
  const owners = new Map<string, string>();
  for (const [pid, p] of Object.entries(profiles)) for (const key of p.ids) owners.set(key, pid);
  return {
    owners,
    profiles: new Map(Object.entries(profiles).map(([pid, p]) => [pid, {
      created: p.created, identifiers: p.ids.map(i), nomerge: p.nomerge ?? [], merged: p.merged ?? [],
    }])),
  };
}

interface Expected {
  readonly anchor?: readonly [string, string];
  readonly profile?: string;
  readonly merges?: readonly (readonly [survivor: string, merged: string, moved: readonly string[], via: string])[];
  readonly attach?: readonly string[];
  readonly refused?: readonly (readonly [reason: string, identifier: string, other: string])[];
}

function plan(e: Expected): IdentityPlan {
  return {
    anchor: e.anchor === undefined ? undefined : { profile: e.anchor[0], via: i(e.anchor[1]) },
    profile: e.profile,
    merges: (e.merges ?? []).map(([survivor, merged, moved, via]) => ({ survivor, merged, identifiers: moved.map(i), via: i(via) })),
    attach: (e.attach ?? []).map(i),
    refused: (e.refused ?? []).map(([reason, idf, other]) => ({ reason, identifier: i(idf), other })),
  };
}

interface Case {
  readonly name: string;
  readonly limits?: IdentityLimits;
  readonly profiles: Readonly<Record<string, Profile>>;
  /** The event's identifiers as the event carries them; the plan takes them in byPriority order. */
  readonly event: readonly string[];
  readonly want: Expected;
}

const limits = (perType: Record<string, number>, maxIdentifiers = 100): IdentityLimits => ({ perType, maxIdentifiers });

const cases: Case[] = [
  {
    name: 'new person: birth with every identifier, user_id first',
    profiles: {},
    event: ['anonymous_id:a1', 'user_id:u1'],
    want: { attach: ['user_id:u1', 'anonymous_id:a1'] },
  },
  {
    name: 'known profile, no new identifier',
    profiles: { p1: { created: 1000, ids: ['anonymous_id:a1', 'user_id:u1'] } },
    event: ['anonymous_id:a1', 'user_id:u1'],
    want: { anchor: ['p1', 'user_id:u1'], profile: 'p1' },
  },
  {
    name: 'known profile + new identifier: a new user_id walked first is still attached to the owner found after it',
    profiles: { p1: { created: 1000, ids: ['anonymous_id:a1'] } },
    event: ['anonymous_id:a1', 'user_id:u1'],
    want: { anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', attach: ['user_id:u1'] },
  },
  {
    name: 'new user_id refused by the per-type limit (user_id <= 1) once the owner is in the group',
    profiles: { p1: { created: 1000, ids: ['user_id:u1', 'anonymous_id:a1'] } },
    event: ['user_id:u1', 'user_id:u2', 'anonymous_id:a2'],
    want: { anchor: ['p1', 'user_id:u1'], profile: 'p1', attach: ['anonymous_id:a2'], refused: [['limit user_id 1', 'user_id:u2', '']] },
  },
  {
    name: 'shared device: a new user_id walked first refuses the device owner, who holds another user_id; the event births',
    profiles: { p1: { created: 1000, ids: ['user_id:u1', 'anonymous_id:a1'] } },
    event: ['anonymous_id:a1', 'user_id:u2'],
    want: { attach: ['user_id:u2'], refused: [['limit user_id 1', 'anonymous_id:a1', 'p1']] },
  },
  {
    name: 'per-type limit on a lower-priority type: the third cookie is refused, the limit itself is allowed',
    limits: limits({ user_id: 1, cookie: 2 }),
    profiles: { p1: { created: 1000, ids: ['anonymous_id:a1', 'cookie:c1'] } },
    event: ['anonymous_id:a1', 'cookie:c2', 'cookie:c3'],
    want: { anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', attach: ['cookie:c2'], refused: [['limit cookie 2', 'cookie:c3', '']] },
  },
  {
    name: 'max identifiers: new identifiers past the total are refused; a higher-priority new one counts first',
    limits: limits({ user_id: 1 }, 3),
    profiles: { p1: { created: 1000, ids: ['anonymous_id:a1', 'cookie:c1'] } },
    event: ['anonymous_id:a1', 'cookie:c2', 'cookie:c3', 'idfa:x'],
    want: {
      anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', attach: ['idfa:x'],
      refused: [['max_identifiers 3', 'cookie:c2', ''], ['max_identifiers 3', 'cookie:c3', '']],
    },
  },
  {
    name: 'max identifiers: a merge past the total is refused, and max_identifiers is named before a per-type limit',
    limits: limits({ user_id: 1 }, 3),
    profiles: {
      p1: { created: 1000, ids: ['user_id:u1', 'anonymous_id:a1'] },
      p2: { created: 2000, ids: ['user_id:u2', 'anonymous_id:a2'] },
    },
    event: ['anonymous_id:a1', 'anonymous_id:a2'],
    want: { anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', refused: [['max_identifiers 3', 'anonymous_id:a2', 'p2']] },
  },
  {
    name: 'two owners: the older (smaller created) survives even when the younger anchors',
    profiles: {
      young: { created: 2000, ids: ['user_id:u1'] },
      old: { created: 1000, ids: ['anonymous_id:a1', 'cookie:c1'] },
    },
    event: ['anonymous_id:a1', 'user_id:u1'],
    want: { anchor: ['young', 'user_id:u1'], profile: 'old', merges: [['old', 'young', ['user_id:u1'], 'anonymous_id:a1']] },
  },
  {
    name: 'two owners: the anchor survives when it is older',
    profiles: {
      old: { created: 1000, ids: ['user_id:u1'] },
      young: { created: 2000, ids: ['anonymous_id:a1', 'cookie:c1'] },
    },
    event: ['anonymous_id:a1', 'user_id:u1', 'idfa:x'],
    want: {
      anchor: ['old', 'user_id:u1'], profile: 'old', attach: ['idfa:x'],
      merges: [['old', 'young', ['anonymous_id:a1', 'cookie:c1'], 'anonymous_id:a1']],
    },
  },
  {
    name: 'two owners created in the same ms: the smaller pid survives',
    profiles: {
      pb: { created: 1000, ids: ['user_id:u1'] },
      pa: { created: 1000, ids: ['anonymous_id:a1'] },
    },
    event: ['user_id:u1', 'anonymous_id:a1'],
    want: { anchor: ['pb', 'user_id:u1'], profile: 'pa', merges: [['pa', 'pb', ['user_id:u1'], 'anonymous_id:a1']] },
  },
  {
    name: 'an unset created counts as 0, so that profile is the oldest',
    profiles: {
      pa: { created: 5, ids: ['user_id:u1'] },
      pz: { ids: ['anonymous_id:a1'] },
    },
    event: ['user_id:u1', 'anonymous_id:a1'],
    want: { anchor: ['pa', 'user_id:u1'], profile: 'pz', merges: [['pz', 'pa', ['user_id:u1'], 'anonymous_id:a1']] },
  },
  {
    name: 'three owners: pairwise into the growing group, the group moving whole when an older owner joins',
    profiles: {
      p1: { created: 3000, ids: ['user_id:u1'] },
      p2: { created: 2000, ids: ['email_sha256:e1'] },
      p3: { created: 1000, ids: ['anonymous_id:a1'] },
    },
    event: ['anonymous_id:a1', 'email_sha256:e1', 'user_id:u1'],
    want: {
      anchor: ['p1', 'user_id:u1'], profile: 'p3',
      merges: [
        ['p2', 'p1', ['user_id:u1'], 'email_sha256:e1'],
        ['p3', 'p2', ['email_sha256:e1', 'user_id:u1'], 'anonymous_id:a1'],
      ],
    },
  },
  {
    name: 'three owners: a younger third owner is absorbed by the survivor so far',
    profiles: {
      p1: { created: 3000, ids: ['user_id:u1'] },
      p2: { created: 1000, ids: ['email_sha256:e1'] },
      p3: { created: 2000, ids: ['anonymous_id:a1'] },
    },
    event: ['user_id:u1', 'email_sha256:e1', 'anonymous_id:a1'],
    want: {
      anchor: ['p1', 'user_id:u1'], profile: 'p2',
      merges: [['p2', 'p1', ['user_id:u1'], 'email_sha256:e1'], ['p2', 'p3', ['anonymous_id:a1'], 'anonymous_id:a1']],
    },
  },
  {
    name: 'an identifier a merge in this walk moved into the group needs nothing',
    profiles: {
      p1: { created: 2000, ids: ['user_id:u1', 'cookie:c1'] },
      p2: { created: 1000, ids: ['anonymous_id:a1'] },
    },
    event: ['user_id:u1', 'anonymous_id:a1', 'cookie:c1'],
    want: { anchor: ['p1', 'user_id:u1'], profile: 'p2', merges: [['p2', 'p1', ['cookie:c1', 'user_id:u1'], 'anonymous_id:a1']] },
  },
  {
    name: 'merge refused by the per-type limit (two user_ids); a refused owner is refused again for each of its identifiers',
    profiles: {
      p1: { created: 2000, ids: ['user_id:u1', 'anonymous_id:a1'] },
      p2: { created: 1000, ids: ['user_id:u2', 'anonymous_id:a2', 'cookie:c2'] },
    },
    event: ['anonymous_id:a1', 'anonymous_id:a2', 'cookie:c2', 'cookie:new'],
    want: {
      anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', attach: ['cookie:new'],
      refused: [['limit user_id 1', 'anonymous_id:a2', 'p2'], ['limit user_id 1', 'cookie:c2', 'p2']],
    },
  },
  {
    name: 'the refused owner counts for nothing: a third owner still fits beside the group',
    limits: limits({ user_id: 1 }, 4),
    profiles: {
      p1: { created: 1000, ids: ['user_id:u1', 'anonymous_id:a1'] },
      p2: { created: 2000, ids: ['user_id:u2', 'anonymous_id:a2'] },
      p3: { created: 3000, ids: ['anonymous_id:a3', 'cookie:c3'] },
    },
    event: ['anonymous_id:a1', 'anonymous_id:a2', 'anonymous_id:a3'],
    want: {
      anchor: ['p1', 'anonymous_id:a1'], profile: 'p1',
      merges: [['p1', 'p3', ['anonymous_id:a3', 'cookie:c3'], 'anonymous_id:a3']],
      refused: [['limit user_id 1', 'anonymous_id:a2', 'p2']],
    },
  },
  ...([
    ['the group\'s nomerge names the owner', { nomerge: ['p2'] }, {}],
    ['the owner\'s nomerge names the group', {}, { nomerge: ['p1'] }],
    ['through merged sets: the group\'s nomerge names a profile the owner absorbed', { nomerge: ['gone'] }, { merged: ['gone'] }],
    ['through merged sets: the owner\'s nomerge names a profile the group absorbed', { merged: ['gone'] }, { nomerge: ['gone'] }],
  ] as const).map(([why, sets1, sets2]): Case => ({
    name: `unmerged: ${why}`,
    profiles: { p1: { created: 1000, ids: ['anonymous_id:a1'], ...sets1 }, p2: { created: 2000, ids: ['anonymous_id:a2'], ...sets2 } },
    event: ['anonymous_id:a1', 'anonymous_id:a2'],
    want: { anchor: ['p1', 'anonymous_id:a1'], profile: 'p1', refused: [['unmerged', 'anonymous_id:a2', 'p2']] },
  })),
  {
    name: 'unmerged through this walk: a nomerge naming a profile merged earlier in the walk',
    profiles: {
      p1: { created: 1000, ids: ['anonymous_id:a1'] },
      p2: { created: 2000, ids: ['anonymous_id:a2'] },
      p3: { created: 3000, ids: ['anonymous_id:a3'], nomerge: ['p2'] },
    },
    event: ['anonymous_id:a1', 'anonymous_id:a2', 'anonymous_id:a3'],
    want: {
      anchor: ['p1', 'anonymous_id:a1'], profile: 'p1',
      merges: [['p1', 'p2', ['anonymous_id:a2'], 'anonymous_id:a2']], refused: [['unmerged', 'anonymous_id:a3', 'p3']],
    },
  },
  {
    name: 'unmerged through this walk: the survivor takes the loser\'s nomerge',
    profiles: {
      p1: { created: 1000, ids: ['anonymous_id:a1'] },
      p2: { created: 2000, ids: ['anonymous_id:a2'], nomerge: ['p3'] },
      p3: { created: 3000, ids: ['anonymous_id:a3'] },
    },
    event: ['anonymous_id:a1', 'anonymous_id:a2', 'anonymous_id:a3'],
    want: {
      anchor: ['p1', 'anonymous_id:a1'], profile: 'p1',
      merges: [['p1', 'p2', ['anonymous_id:a2'], 'anonymous_id:a2']], refused: [['unmerged', 'anonymous_id:a3', 'p3']],
    },
  },
  {
    name: 'a guardrail refusal is named before unmerged',
    profiles: {
      p1: { created: 1000, ids: ['user_id:u1'], nomerge: ['p2'] },
      p2: { created: 2000, ids: ['user_id:u2'] },
    },
    event: ['user_id:u1', 'user_id:u2'],
    want: { anchor: ['p1', 'user_id:u1'], profile: 'p1', refused: [['limit user_id 1', 'user_id:u2', 'p2']] },
  },
  {
    name: 'same type on both sides: cookies within their limit and emails without one merge',
    limits: limits({ user_id: 1, cookie: 3 }),
    profiles: {
      p1: { created: 1000, ids: ['cookie:c1', 'cookie:c2', 'email_sha256:e1'] },
      p2: { created: 2000, ids: ['cookie:c3', 'email_sha256:e2'] },
    },
    event: ['cookie:c1', 'cookie:c3'],
    want: { anchor: ['p1', 'cookie:c1'], profile: 'p1', merges: [['p1', 'p2', ['cookie:c3', 'email_sha256:e2'], 'cookie:c3']] },
  },
  {
    name: 'same type on both sides: cookies past their limit refuse the merge',
    limits: limits({ user_id: 1, cookie: 2 }),
    profiles: {
      p1: { created: 1000, ids: ['cookie:c1', 'cookie:c2'] },
      p2: { created: 2000, ids: ['cookie:c3'] },
    },
    event: ['cookie:c1', 'cookie:c3'],
    want: { anchor: ['p1', 'cookie:c1'], profile: 'p1', refused: [['limit cookie 2', 'cookie:c3', 'p2']] },
  },
  {
    name: 'a lone owner already past a (lowered) limit is refused: the event births with nothing to attach',
    profiles: { p1: { created: 1000, ids: ['user_id:u1', 'user_id:u2', 'anonymous_id:a1'] } },
    event: ['anonymous_id:a1'],
    want: { refused: [['limit user_id 1', 'anonymous_id:a1', 'p1']] },
  },
];

for (const c of cases) {
  void t.test(c.name, async (t) => {
    t.strictSame(planIdentity(c.event.map(i), world(c.profiles), c.limits ?? DEFAULT_IDENTITY_LIMITS), plan(c.want));
  });
}

void t.test('an owner of an event identifier missing from the snapshot is an error', async (t) => {
  const w: IdentityWorld = { owners: new Map([['anonymous_id:a1', 'p1']]), profiles: new Map() };
  t.throws(() => planIdentity([i('anonymous_id:a1')], w, DEFAULT_IDENTITY_LIMITS), /no snapshot of profile p1/);
});

void t.test('planning reads the world and leaves it as it was', async (t) => {
  const w = world({ p1: { created: 2000, ids: ['user_id:u1'] }, p2: { created: 1000, ids: ['anonymous_id:a1'], nomerge: ['x'] } });
  const before = JSON.stringify([[...w.owners], [...w.profiles]]);
  planIdentity([i('user_id:u1'), i('anonymous_id:a1')], w, DEFAULT_IDENTITY_LIMITS);
  t.equal(JSON.stringify([[...w.owners], [...w.profiles]]), before);
});

void t.test('the guardrail helpers', async (t) => {
  const l = limits({ user_id: 1, cookie: 2 }, 5);
  t.same([...typeCounts(['cookie:a', 'user_id:u', 'cookie:b'].map(i))], [['cookie', 2], ['user_id', 1]]);
  t.equal(guardrailRefusal(l, new Map([['cookie', 2]]), 4, new Map([['user_id', 1]]), 1), undefined, 'exactly at every limit is allowed');
  t.equal(guardrailRefusal(l, new Map([['cookie', 2]]), 5, new Map([['user_id', 1]]), 1), 'max_identifiers 5');
  t.equal(guardrailRefusal(l, new Map([['cookie', 2]]), 2, new Map([['cookie', 1]]), 1), 'limit cookie 2');
  t.equal(guardrailRefusal(l, new Map([['idfa', 9]]), 2, new Map([['idfa', 1]]), 1), undefined, 'types without a limit only count toward the total');
  t.ok(isOlder({ pid: 'b', created: 1 }, { pid: 'a', created: 2 }));
  t.ok(isOlder({ pid: 'a', created: 2 }, { pid: 'b', created: 2 }));
  t.notOk(isOlder({ pid: 'b', created: 2 }, { pid: 'a', created: 2 }));
  t.ok(isOlder({ pid: 'z', created: undefined }, { pid: 'a', created: 1 }), 'unset created is 0');
  t.ok(isOlder({ pid: 'Z', created: 1 }, { pid: 'a', created: 1 }), 'pids compare by bytes');
  const p = (pid: string, nomerge: string[] = [], merged: string[] = []) => ({ pid, nomerge, merged });
  t.notOk(splitApart(p('a'), p('b')));
  t.ok(splitApart(p('a', ['b']), p('b')));
  t.ok(splitApart(p('a'), p('b', ['a'])));
  t.ok(splitApart(p('a', ['x']), p('b', [], ['x'])));
  t.notOk(splitApart(p('a', ['x']), p('b', [], ['y'])));
});

void t.test('planning again after a lost claim: the profile the event is on starts the group', async (t) => {
  // p2 was born for the event with a1 and u1; u1's claim was lost to p1 (a1's was made).
  const lost: IdentityWorld = {
    owners: new Map([['user_id:u1', 'p1'], ['anonymous_id:a1', 'p2']]),
    profiles: new Map([
      ['p1', { created: 1000, identifiers: [i('user_id:u1'), i('cookie:c1')], nomerge: [], merged: [] }],
      ['p2', { created: 2000, identifiers: [i('user_id:u1'), i('anonymous_id:a1')], nomerge: [], merged: [] }],
    ]),
  };
  const event = [i('anonymous_id:a1'), i('user_id:u1')];
  t.same(planIdentity(event, lost, limits({ user_id: 1 }), { start: 'p2' }), plan({
    profile: 'p1', merges: [['p1', 'p2', ['anonymous_id:a1', 'user_id:u1'], 'user_id:u1']],
  }), 'merged with the claim\'s winner; the identifier both list counts once against the user_id limit');
  t.same(planIdentity(event, lost, limits({ user_id: 1 }, 2), { start: 'p2' }), plan({
    profile: 'p2', refused: [['max_identifiers 2', 'user_id:u1', 'p1']],
  }), 'refused by max_identifiers: the event stays on the start (which gives u1 up)');
  // The start lists an identifier nobody owns (its claim was not made yet): claimed, not counted again.
  const unclaimed: IdentityWorld = {
    owners: new Map(),
    profiles: new Map([['p2', { created: 2000, identifiers: [i('user_id:u1')], nomerge: [], merged: [] }]]),
  };
  t.same(planIdentity([i('user_id:u1'), i('user_id:u1')], unclaimed, limits({ user_id: 1 }), { start: 'p2' }), plan({
    profile: 'p2', attach: ['user_id:u1'], refused: [['limit user_id 1', 'user_id:u1', '']],
  }), 'claimed again; a second copy in the event is checked as apply-event.lua checks it');
});

void t.test('a merge the survivor refused is planned as a refusal', async (t) => {
  const w = world({ p1: { created: 1000, ids: ['anonymous_id:a1'] }, p2: { created: 2000, ids: ['anonymous_id:a2'] }, p3: { created: 3000, ids: ['anonymous_id:a3'] } });
  const event = [i('anonymous_id:a1'), i('anonymous_id:a2'), i('anonymous_id:a3')];
  t.same(planIdentity(event, w, DEFAULT_IDENTITY_LIMITS, { refuse: new Map([['anonymous_id:a2', 'limit user_id 1']]) }), plan({
    anchor: ['p1', 'anonymous_id:a1'], profile: 'p1',
    merges: [['p1', 'p3', ['anonymous_id:a3'], 'anonymous_id:a3']],
    refused: [['limit user_id 1', 'anonymous_id:a2', 'p2']],
  }), 'the refused owner stays out, the walk goes on');
  t.same(planIdentity([i('anonymous_id:a2')], w, DEFAULT_IDENTITY_LIMITS, { refuse: new Map([['anonymous_id:a2', 'x']]) }).profile, 'p2', 'an anchor is never refused this way');
});

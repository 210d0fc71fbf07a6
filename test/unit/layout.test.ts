import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { identifierKey } from '../../src/identity/identifier.ts';
import { isLayoutRefusal, layoutRefusal, parseLayout, throwIfPaused } from '../../src/profiles/layout.redis.ts';
import { splitIdentifierTarget } from '../../src/profiles/migrate-layout.ts';

void t.test('parseLayout reads a marker Pulse wrote and refuses any other', async (t) => {
  t.equal(parseLayout({}), undefined, 'no marker');
  t.same(parseLayout({ layout: 'profile', version: '2', buckets: '64', state: 'done' }), { layout: 'profile', version: 2, buckets: 64, state: 'done' }, 'profile, done');
  t.same(parseLayout({ layout: 'tenant', version: '1', buckets: '8', state: 'migrating' }), { layout: 'tenant', version: 1, buckets: 8, state: 'migrating' }, 'tenant, migrating');
  for (const bad of [
    { layout: 'profile', version: '1', buckets: '64', state: 'done' }, { layout: 'other', version: '2', buckets: '64', state: 'done' },
    { layout: 'profile', version: '2', buckets: '0', state: 'done' }, { layout: 'profile', version: '2', buckets: '1.5', state: 'done' },
    { layout: 'profile', version: '2', buckets: '64', state: 'paused' }, { layout: 'profile', version: '2', state: 'done' },
  ]) t.throws(() => parseLayout(bad), `invalid: ${JSON.stringify(bad)}`);
});

void t.test('throwIfPaused turns a v1 script\'s paused answer (alone or in a pipeline\'s) into a layout refusal', async (t) => {
  t.same(throwIfPaused('t', ['new', 'pid', '1']), ['new', 'pid', '1'], 'an ordinary answer passes');
  t.same(throwIfPaused('t', [1, 0, ['pid', 1], null]), [1, 0, ['pid', 1], null], 'a pipeline\'s answers pass');
  t.same(throwIfPaused('t', ['enter', 'paused']), ['enter', 'paused'], 'a segment named paused is not a pause');
  for (const reply of [['paused'], [['new', 'p', '1'], ['paused']]]) {
    const err = (() => { try { throwIfPaused('acme', reply); return undefined; } catch (e) { return e; } })();
    t.ok(isLayoutRefusal(err) && err instanceof PulseError && err.code === 'UNAVAILABLE', `refused: ${JSON.stringify(reply)}`);
  }
  t.ok(isLayoutRefusal(layoutRefusal('acme', 'mismatch')), 'a mismatch refusal is one too');
  t.notOk(isLayoutRefusal(new PulseError('UNAVAILABLE', 'tenant acme is paused while its Redis layout is migrated')), 'the same message from elsewhere is not');
});

void t.test('an identifier and a target are told apart in a v1 identifier frequency key, colons and all', async (t) => {
  t.same(splitIdentifierTarget('gaid:g-9:campaign:c1'), { idf: { type: 'gaid', id: 'g-9' }, target: 'campaign:c1' }, 'plain');
  t.same(splitIdentifierTarget('partner:acme:x:y:creative:a:b'), { idf: { type: 'partner:acme', id: 'x:y' }, target: 'creative:a:b' }, 'a partner id and a target with colons');
  t.same(identifierKey(splitIdentifierTarget('cookie:c:campaign:1:campaign:2').idf), 'cookie:c', 'the first valid split is taken');
  t.throws(() => splitIdentifierTarget('gaid:g-9:other:c1'), 'no target scope: an error');
});

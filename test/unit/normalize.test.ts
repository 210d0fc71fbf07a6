import { createHash } from 'node:crypto';
import t from 'tap';
import { normalizeEvent, type PulseEvent } from '../../src/collection/event.ts';
import { inferChannel, normalizeAdId, normalizeEmail, normalizePhone, type NormalizeOptions } from '../../src/collection/normalize.ts';
import { toWire } from '../../src/collection/publisher.ts';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
const DESKTOP_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const TV_UA = 'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36';
const DALVIK_UA = 'Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230805.001)';

function accepted(input: unknown, options?: NormalizeOptions, defaultTimestamp = NOW): PulseEvent {
  const r = normalizeEvent(input, defaultTimestamp, options);
  if (!r.ok) throw new Error(`expected the event to be accepted, refused: ${r.problem.reason}`);
  return r.event;
}

void t.test('emails: trimmed and lowercased; Gmail loses dots and +tags; invalid ones are undefined', async (t) => {
  t.equal(normalizeEmail('  Jane.Doe+News@Example.COM '), 'jane.doe+news@example.com', 'other domains keep dots and tags');
  t.equal(normalizeEmail('Jane.Doe+news@Gmail.com'), 'janedoe@gmail.com');
  t.equal(normalizeEmail('j.a.n.e@googlemail.com'), 'jane@gmail.com', 'googlemail.com is gmail.com');
  t.equal(normalizeEmail('+tag@gmail.com'), undefined, 'nothing left of the local part');
  for (const bad of ['', 'jane', 'jane@', '@example.com', 'jane@example', 'ja ne@example.com', 'a@b@example.com', `${'a'.repeat(65)}@example.com`, `a@${'b'.repeat(250)}.com`]) {
    t.equal(normalizeEmail(bad), undefined, JSON.stringify(bad));
  }
});

void t.test('phones: E.164 read in the configured region unless internationally prefixed', async (t) => {
  t.equal(normalizePhone('(415) 555-2671', 'US'), '+14155552671');
  t.equal(normalizePhone('+1 415 555 2671', 'FR'), '+14155552671', 'a + prefix ignores the region');
  t.equal(normalizePhone('06 12 34 56 78', 'FR'), '+33612345678');
  t.equal(normalizePhone('06 12 34 56 78', 'US'), undefined, 'not a valid US number');
  t.equal(normalizePhone('0044 20 7946 0958', 'FR'), '+442079460958', 'the region\'s international prefix');
  t.equal(normalizePhone('12', 'US'), undefined);
  t.equal(normalizePhone('call me', 'US'), undefined);
  t.equal(normalizePhone('1'.repeat(65), 'US'), undefined, 'over 64 characters');
});

void t.test('advertising ids: UUIDs in lowercase, anything else undefined', async (t) => {
  t.equal(normalizeAdId(' 6D92078A-8246-4BA4-AE5B-76104861E7DC '), '6d92078a-8246-4ba4-ae5b-76104861e7dc');
  t.equal(normalizeAdId('not-a-uuid'), undefined);
  t.equal(normalizeAdId('6D92078A82464BA4AE5B76104861E7DC'), undefined, 'no dashes');
});

void t.test('identify: traits.email and traits.phone become hashed externalIds; the raw values are gone', async (t) => {
  const e = accepted({
    type: 'identify', messageId: 'm1', userId: 'u1',
    traits: { email: ' Jane.Doe@Example.com', phone: '(415) 555-2671', plan: 'pro' },
  });
  const email = sha('jane.doe@example.com');
  const phone = sha('+14155552671');
  t.same(e.traits, { plan: 'pro' });
  t.same(e.context['externalIds'], [{ type: 'email_sha256', id: email }, { type: 'phone_sha256', id: phone }]);
  t.same(e.identifiers, [{ type: 'user_id', id: 'u1' }, { type: 'email_sha256', id: email }, { type: 'phone_sha256', id: phone }]);
  const text = JSON.stringify(toWire(e));
  t.notOk(/jane|555|2671/i.test(text), 'no trace of the raw email or phone in the wire form');
  t.equal(e.context['pulse'], undefined, 'nothing dropped');
});

void t.test('context.traits are scrubbed too and merged (hashed) into track traits', async (t) => {
  const e = accepted({
    type: 'track', event: 'Viewed', messageId: 'm', anonymousId: 'a1',
    context: { traits: { email: 'x@example.org', phone: '06 12 34 56 78', country: 'FR' } },
  }, { phoneRegion: 'FR' });
  t.same(e.traits, { country: 'FR' });
  t.same(e.context['traits'], { country: 'FR' });
  t.same(e.identifiers.map((i) => i.type), ['anonymous_id', 'email_sha256', 'phone_sha256']);
  t.equal(e.identifiers[2]?.id, sha('+33612345678'), 'read as a French number with phoneRegion FR');
  const us = accepted({ type: 'track', event: 'Viewed', messageId: 'm', anonymousId: 'a1', context: { traits: { phone: '06 12 34 56 78' } } });
  t.same(us.context['pulse'], { dropped: ['context.traits.phone: not a valid phone number'] }, 'in the default region US it is not valid');
});

void t.test('an invalid email or phone is dropped without refusing the event; the value is never recorded', async (t) => {
  const e = accepted({ type: 'identify', messageId: 'm', userId: 'u1', traits: { email: 'nobody-at-example', phone: { n: 1 }, name: 'N' } });
  t.same(e.traits, { name: 'N' });
  t.same(e.context['pulse'], { dropped: ['traits.email: not a valid email address', 'traits.phone: not a valid phone number'] });
  t.notOk(JSON.stringify(e).includes('nobody-at-example'));
  t.same(e.identifiers, [{ type: 'user_id', id: 'u1' }]);
  const cleared = accepted({ type: 'identify', messageId: 'm', userId: 'u1', traits: { email: null } });
  t.same(cleared.traits, { email: null }, 'a null trait (Segment: clear it) is kept, there is nothing to hash');
});

void t.test('properties and group traits are hashed in place, not taken as the user\'s identifiers', async (t) => {
  const track = accepted({ type: 'track', event: 'Invite Sent', messageId: 'm', userId: 'u1', properties: { email: 'Friend@Example.com', n: 1 } });
  t.same(track.properties, { n: 1, email_sha256: sha('friend@example.com') });
  t.same(track.identifiers, [{ type: 'user_id', id: 'u1' }]);
  const group = accepted({ type: 'group', messageId: 'm', userId: 'u1', groupId: 'g1', traits: { email: 'billing@acme.example', name: 'Acme' } });
  t.same(group.traits, { name: 'Acme', email_sha256: sha('billing@acme.example') });
  t.same(group.identifiers, [{ type: 'user_id', id: 'u1' }]);
});

void t.test('the $consent trait is reserved for Pulse', async (t) => {
  const e = accepted({ type: 'identify', messageId: 'm', userId: 'u1', traits: { $consent: { purposes: [3] }, a: 1 }, context: { traits: { $consent: 'x' } } });
  t.same(e.traits, { a: 1 });
  t.same(e.context['traits'], {});
  t.same(e.context['pulse'], { dropped: ['traits.$consent: reserved for Pulse', 'context.traits.$consent: reserved for Pulse'] });
  t.same(accepted({ type: 'track', event: 'x', messageId: 'm', userId: 'u1', properties: { $consent: 1 } }).properties, { $consent: 1 }, 'properties may use the name');
});

void t.test('user agent: device, os and browser filled where the sender left them out', async (t) => {
  const e = accepted({ type: 'page', messageId: 'm', anonymousId: 'a', context: { userAgent: IPHONE_UA } });
  t.same(e.context['device'], { type: 'mobile', vendor: 'Apple', model: 'iPhone' });
  t.same(e.context['os'], { name: 'iOS', version: '17.4' });
  t.same(e.context['browser'], { name: 'Mobile Safari', version: '17.4' });

  const given = accepted({
    type: 'page', messageId: 'm', anonymousId: 'a',
    context: { userAgent: IPHONE_UA, device: { type: 'ios', model: 'iPhone15,2' }, os: { name: 'iPadOS' }, browser: { version: '1' } },
  });
  t.same(given.context['device'], { type: 'ios', model: 'iPhone15,2', vendor: 'Apple' }, 'given fields kept, missing ones added');
  t.same(given.context['os'], { name: 'iPadOS' }, 'another OS named by the sender does not get this version');
  t.same(given.context['browser'], { version: '1', name: 'Mobile Safari' });

  const desktop = accepted({ type: 'page', messageId: 'm', anonymousId: 'a', context: { userAgent: DESKTOP_UA } });
  t.equal(desktop.context['device'], undefined, 'ua-parser reports no device for desktops: nothing invented');
  t.same(desktop.context['os'], { name: 'Windows', version: '10' });
  const junk = accepted({ type: 'page', messageId: 'm', anonymousId: 'a', context: { userAgent: 'curl', device: 'laptop' } });
  t.same(junk.context, { userAgent: 'curl', device: 'laptop', channel: 'web' }, 'nothing parsed, a non-object device left alone');
});

void t.test('advertising ids: iOS → idfa, Android → gaid, lowercased; limited or invalid ones removed', async (t) => {
  const ios = accepted({ type: 'screen', messageId: 'm', anonymousId: 'a', context: { device: { type: 'ios', advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' } } });
  t.same(ios.identifiers, [{ type: 'anonymous_id', id: 'a' }, { type: 'idfa', id: '6d92078a-8246-4ba4-ae5b-76104861e7dc' }]);
  t.equal((ios.context['device'] as { advertisingId: string }).advertisingId, '6d92078a-8246-4ba4-ae5b-76104861e7dc');
  const android = accepted({ type: 'track', event: 'x', messageId: 'm', anonymousId: 'a', context: { os: { name: 'Android' }, device: { advertisingId: '38400000-8CF0-11BD-B23E-10B96E40000D' } } });
  t.same(android.identifiers.at(-1), { type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' });
  const ua = accepted({ type: 'track', event: 'x', messageId: 'm', anonymousId: 'a', context: { userAgent: DALVIK_UA, device: { advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d' } } });
  t.same(ua.identifiers.at(-1), { type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }, 'the platform may come from the user agent');
  const other = accepted({ type: 'track', event: 'x', messageId: 'm', anonymousId: 'a', context: { device: { type: 'roku', advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d' } } });
  t.same(other.identifiers, [{ type: 'anonymous_id', id: 'a' }], 'other platforms: no identifier');

  const cases: [object, string][] = [
    [{ type: 'ios', advertisingId: '00000000-0000-0000-0000-000000000000' }, 'context.device.advertisingId: zeroed (tracking limited)'],
    [{ type: 'android', advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d', adTrackingEnabled: false }, 'context.device.advertisingId: ad tracking disabled'],
    [{ type: 'ios', advertisingId: 'IDFA-1' }, 'context.device.advertisingId: not a UUID'],
  ];
  for (const [device, reason] of cases) {
    const e = accepted({ type: 'screen', messageId: 'm', anonymousId: 'a', context: { device } });
    t.same(e.identifiers, [{ type: 'anonymous_id', id: 'a' }], reason);
    t.notOk('advertisingId' in (e.context['device'] as object), 'removed from the device');
    t.same(e.context['pulse'], { dropped: [reason] });
  }

  const given = accepted({ type: 'track', event: 'x', messageId: 'm', context: { externalIds: [{ type: 'IDFA'.toLowerCase(), id: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, { type: 'gaid', id: '00000000-0000-0000-0000-000000000000' }, { type: 'cookie', id: 'C1' }] } });
  t.same(given.identifiers, [{ type: 'idfa', id: '6d92078a-8246-4ba4-ae5b-76104861e7dc' }, { type: 'cookie', id: 'C1' }], 'given UUID ids lowercased, zeroed ones removed, others untouched');
  t.same(given.context['pulse'], { dropped: ['context.externalIds.1: zeroed gaid (tracking limited)'] });
});

void t.test('channel: validated (any case) and inferred when absent', async (t) => {
  const base = { messageId: 'm', anonymousId: 'a' };
  t.equal(accepted({ ...base, type: 'track', event: 'x', context: { channel: 'CTV' } }).context['channel'], 'ctv');
  for (const bad of ['tv', 5, '']) {
    const r = normalizeEvent({ ...base, type: 'track', event: 'x', context: { channel: bad } }, NOW);
    t.same(r.ok ? undefined : r.problem, { field: 'context.channel', reason: 'context.channel: must be one of web, mobile, email, social, ctv, offline, partner' }, JSON.stringify(bad));
  }
  const channel = (e: object) => accepted({ ...base, ...e }).context['channel'];
  t.equal(channel({ type: 'track', event: 'Email Opened' }), 'email');
  t.equal(channel({ type: 'page', context: { userAgent: TV_UA } }), 'ctv', 'a TV user agent wins over a page call');
  t.equal(channel({ type: 'track', event: 'Play', context: { os: { name: 'tvOS' }, app: { name: 'x' } } }), 'ctv');
  t.equal(channel({ type: 'screen' }), 'mobile');
  t.equal(channel({ type: 'track', event: 'x', context: { app: { name: 'Shop' } } }), 'mobile');
  t.equal(channel({ type: 'track', event: 'x', context: { library: { name: 'analytics-kotlin' } } }), 'mobile');
  t.equal(channel({ type: 'track', event: 'x', context: { userAgent: DALVIK_UA } }), undefined, 'an Android HTTP agent alone says nothing');
  t.equal(channel({ type: 'page' }), 'web');
  t.equal(channel({ type: 'track', event: 'x', context: { page: { path: '/' } } }), 'web');
  t.equal(channel({ type: 'track', event: 'x', context: { library: { name: 'analytics.js' } } }), 'web');
  t.equal(channel({ type: 'track', event: 'x', context: { userAgent: DESKTOP_UA } }), 'web', 'a browser in the user agent');
  t.equal(channel({ type: 'track', event: 'x', context: { library: { name: 'analytics-node' } } }), undefined, 'server-side: unknown');
  t.equal(inferChannel('identify', undefined, {}), undefined);
});

void t.test('timestamps: originalTimestamp as a fallback; a clock ahead (sentAt after receipt) is corrected', async (t) => {
  const base = { type: 'track', event: 'x', messageId: 'm', userId: 'u' };
  const at = (e: object, received = NOW) => accepted({ ...base, ...e }, undefined, received).timestamp;
  t.equal(at({ originalTimestamp: '2024-05-01T11:00:00Z' }), NOW - 3_600_000);
  t.equal(at({ timestamp: '2024-05-01T10:00:00Z', originalTimestamp: '2024-05-01T11:00:00Z' }), NOW - 7_200_000, 'timestamp wins');
  t.equal(at({ originalTimestamp: '2024-05-01T12:30:00Z', sentAt: '2024-05-01T12:40:00Z' }), NOW - 600_000, 'clock 40 min ahead: event 10 min before receipt');
  t.equal(at({ timestamp: '2024-05-01T11:00:00Z', sentAt: '2024-05-01T11:30:00Z' }), NOW - 3_600_000, 'sentAt before receipt (queued, replayed or slow clock): not corrected');
  t.equal(at({ timestamp: '2024-05-01T11:00:00Z', sentAt: 'whenever' }), NOW - 3_600_000, 'an unreadable sentAt is ignored');
  t.equal(at({ sentAt: '2024-05-01T13:00:00Z' }), NOW, 'no client time: the receive time, uncorrected');
  t.equal(at({ timestamp: 60, sentAt: '2024-05-01T13:00:00Z' }), 60_000, 'a correction below 1970 is not made');
  const bad = normalizeEvent({ ...base, originalTimestamp: 'yesterday' }, NOW);
  t.equal(bad.ok ? undefined : bad.problem.field, 'originalTimestamp');
});

void t.test('derived identifiers stop at 32 external ids, and say so', async (t) => {
  const many = Array.from({ length: 32 }, (_, i) => ({ type: 'cookie', id: `c${i}` }));
  const e = accepted({ type: 'identify', messageId: 'm', userId: 'u', traits: { email: 'a@example.com' }, context: { externalIds: many } });
  t.equal((e.context['externalIds'] as unknown[]).length, 32);
  t.notOk(e.identifiers.some((i) => i.type === 'email_sha256'));
  t.same(e.context['pulse'], { dropped: ['traits.email: no room for another of 32 external ids'] });
});

/** Events covering every rule above, to check that normalization is idempotent. */
function samples(): unknown[] {
  const devices = [undefined, { type: 'ios', advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, { type: 'android', advertisingId: '00000000-0000-0000-0000-000000000000' },
    { advertisingId: '38400000-8CF0-11BD-B23E-10B96E40000D', adTrackingEnabled: false }, { type: 'ios', advertisingId: 'bad' }, { model: 'X1' }];
  const agents = [undefined, IPHONE_UA, DESKTOP_UA, TV_UA, DALVIK_UA];
  const traits = [undefined, { email: 'Jane.Doe+x@GoogleMail.com', phone: '+44 20 7946 0958' }, { email: 'broken', phone: '1' }, { $consent: 1, plan: 'pro' }];
  const out: unknown[] = [];
  let n = 0;
  for (const type of ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const) {
    for (const [i, device] of devices.entries()) {
      for (const [j, userAgent] of agents.entries()) {
        const tr = traits[(i + j) % traits.length];
        const context: Record<string, unknown> = {};
        if (device !== undefined) context['device'] = device;
        if (userAgent !== undefined) context['userAgent'] = userAgent;
        if ((i + j) % 3 === 0) context['traits'] = { email: 'ctx@example.com', phone: '415 555 2671', city: 'SF' };
        if ((i * j) % 4 === 1) context['externalIds'] = [{ type: 'idfa', id: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, { type: 'partner:acme', id: 'P1', collection: 'users' }];
        if (j === 2) context['channel'] = 'Web';
        out.push({
          type, messageId: `m${n++}`, userId: `u${i}`, anonymousId: j % 2 === 0 ? `a${j}` : null,
          ...(type === 'track' ? { event: j === 1 ? 'Email Opened' : 'Purchase' } : {}),
          ...(type === 'page' || type === 'screen' ? { name: 'Home' } : {}),
          ...(type === 'alias' ? { previousId: 'old' } : {}),
          ...(type === 'group' ? { groupId: 'g1' } : {}),
          ...(tr === undefined ? {} : { traits: tr }),
          ...(j % 2 === 1 ? { properties: { email: 'P@example.com', value: 3 } } : {}),
          ...(i % 3 === 0 ? { originalTimestamp: '2024-05-01T11:59:00Z', sentAt: '2024-05-01T12:09:00Z' } : {}),
          ...(i % 3 === 1 ? { timestamp: 1_714_560_000 } : {}),
          context,
        });
      }
    }
  }
  return out;
}

void t.test('idempotent: normalizing the wire form of a normalized event gives the same event', async (t) => {
  const all = samples();
  t.ok(all.length >= 150, `${all.length} sample events`);
  let compared = 0;
  for (const raw of all) {
    const first = normalizeEvent(raw, NOW);
    if (!first.ok) throw new Error(`sample refused: ${first.problem.reason}`);
    // The processor's default time (the publish time) differs from the collector's receive time.
    const second = normalizeEvent(JSON.parse(JSON.stringify(toWire(first.event))), NOW + 5_000);
    if (!second.ok) {
      t.fail(`the normalized form of ${first.event.messageId} was refused: ${second.problem.reason}`);
      continue;
    }
    t.same(second.event, first.event, first.event.messageId, { diagnostic: false });
    compared++;
  }
  t.equal(compared, all.length, 'every sample compared');
  const idempotentFr = normalizeEvent(toWire(accepted({ type: 'identify', messageId: 'fr', userId: 'u', traits: { phone: '06 12 34 56 78' } }, { phoneRegion: 'FR' })), NOW, { phoneRegion: 'US' });
  t.same(idempotentFr.ok && idempotentFr.event.identifiers.at(-1), { type: 'phone_sha256', id: sha('+33612345678') }, 'a second pass in another region keeps the first hash');
});

void t.test('normalization does not change the caller\'s input', async (t) => {
  const raw = { type: 'identify', messageId: 'm', userId: 'u', traits: { email: 'a@example.com' }, context: { userAgent: IPHONE_UA, device: { type: 'ios', advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, traits: { phone: '415 555 2671' } } };
  const copy = JSON.parse(JSON.stringify(raw)) as unknown;
  accepted(raw);
  t.same(raw, copy);
});

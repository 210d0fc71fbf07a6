// Segments at scale (issue 4 item 8): 100 segments of mixed kinds created through SegmentService,
// a population of profiles loaded through the real ingest path, then the processor's throughput on
// a steady stream of events hitting existing profiles, Redis memory per profile, and Estimate
// latency. Runs its own Pulse under a namespace of its own (`bench_<random>`), removed at the end.
//
//   npm run bench -- --only segments            1,000,000 profiles (~25-40 minutes on 2 cores)
//   npm run bench -- --only segments --quick    20,000 profiles (~2 minutes); writes nothing into the repository
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { EstimateSegmentResponse__Output } from '../src/gen/pulse/v1/EstimateSegmentResponse.ts';
import { parseIdentifierKey } from '../src/identity/identifier.ts';
import { streamNames } from '../src/infra/nats.ts';
import { loadPulseGrpc } from '../src/infra/proto.ts';
import { tenantKeys, type TenantKeys } from '../src/profiles/keys.ts';
import type { BenchMessage } from './events.ts';
import { CpuProfiler, type ProfileSummary } from './profile.ts';
import { BENCH_TENANT, cleanupNamespace, createSegments, ingestRun, startBenchPulse, type BenchPulse, type IngestResult, type Metrics } from './pulse-harness.ts';
import { isoBasic, machineFacts, updateReadme, writeJson } from './report.ts';
import { CpuMeter, findServerPid, HOST, log, machineBusySeconds, ms, NATS_URL, randomSuffix, REDIS_URL, round, si, sleep } from './util.ts';

export interface SegmentsPlan {
  /** Profiles in the population (user ids u0..u<profiles - 1>). */
  readonly profiles: number;
  /**
   * Distinct behaviours: person u does what person u mod behaviours does, under ids of its own.
   * People u < behaviours are loaded through ingest; the others are copies of their profile
   * (bench/clone-profiles.lua) except the last `controls`, loaded through ingest too and compared
   * with copies of the same behaviour.
   */
  readonly behaviours: number;
  readonly controls: number;
  /** Events per `{"batch": [...]}` message. */
  readonly perMessage: number;
  /** Publishes awaiting their ack at once while loading. */
  readonly publishWindow: number;
  readonly loadTimeoutMs: number;
  /** Events of each steady-stream attempt. */
  readonly steadyEvents: number;
  readonly attempts: number;
  /** Estimate calls per draft rule (after one warm-up call). */
  readonly estimateCalls: number;
  /** Keys of each kind whose MEMORY USAGE is read. */
  readonly memorySamples: number;
}

export const SEGMENTS_FULL: SegmentsPlan = {
  profiles: 1_000_000, behaviours: 10_000, controls: 200, perMessage: 100, publishWindow: 16, loadTimeoutMs: 45 * 60_000, steadyEvents: 20_000, attempts: 2, estimateCalls: 20, memorySamples: 200,
};
export const SEGMENTS_QUICK: SegmentsPlan = {
  profiles: 20_000, behaviours: 5_000, controls: 100, perMessage: 100, publishWindow: 16, loadTimeoutMs: 10 * 60_000, steadyEvents: 10_000, attempts: 1, estimateCalls: 10, memorySamples: 50,
};

// --- the population ----------------------------------------------------------------------------

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PLANS = ['free', 'free', 'free', 'free', 'free', 'free', 'pro', 'pro', 'pro', 'enterprise'] as const;
const COUNTRIES = ['US', 'GB', 'FR', 'DE', 'ES', 'IT', 'NL', 'SE', 'PL', 'BR', 'JP', 'IN'] as const;
const INTERESTS = ['sports', 'travel', 'tech', 'fashion', 'food', 'music', 'gaming', 'finance', 'auto', 'health'] as const;
const DEVICES = ['iPhone 15', 'iPhone 13', 'Pixel 8', 'Galaxy S24', 'MacBook Air', 'Windows PC'] as const;
const CATEGORIES = ['shoes', 'electronics', 'books', 'home', 'beauty', 'toys'] as const;
/** Track events, and the step of the funnel that follows each. */
const FUNNEL: Readonly<Record<string, string>> = { 'Product Viewed': 'Added to Cart', 'Added to Cart': 'Purchase', Purchase: 'Product Viewed', 'Newsletter Opened': 'Product Viewed' };
const MOBILE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** A deterministic number in [0, 1) for (i, salt): every run builds the same population. */
function unit(i: number, salt: number): number {
  let x = (Math.imul(i, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 2 ** 32;
}

function pick<T>(list: readonly T[], r: number): T {
  return list[Math.floor(r * list.length)] as T;
}

function traitsOf(u: number, now: number): Record<string, unknown> {
  const first = Math.floor(unit(u, 6) * INTERESTS.length);
  const interests = [...new Set([first, (first + 1 + Math.floor(unit(u, 7) * 3)) % INTERESTS.length].slice(0, 1 + Math.floor(unit(u, 8) * 2)))].map((k) => INTERESTS[k]);
  return {
    plan: pick(PLANS, unit(u, 1)),
    country: pick(COUNTRIES, unit(u, 2)),
    age: 18 + Math.floor(unit(u, 3) * 60),
    ltv: Math.round(unit(u, 4) * 200_000) / 100,
    signup_at: new Date(now - Math.floor(unit(u, 5) * 3 * 365 * DAY)).toISOString(),
    interests,
    device: pick(DEVICES, unit(u, 9)),
    newsletter: unit(u, 10) < 0.4,
  };
}

function trackProperties(name: string, r: number): Record<string, unknown> {
  const category = pick(CATEGORIES, r);
  const price = Math.round(1 + unit(Math.floor(r * 1e9), 11) * 29_900) / 100;
  if (name === 'Purchase') return { category, revenue: Math.round(5 + unit(Math.floor(r * 1e9), 12) * 49_500) / 100, currency: 'EUR', quantity: 1 + Math.floor(r * 3) };
  if (name === 'Newsletter Opened') return { campaign: `nl-${Math.floor(r * 20)}` };
  return { category, price, sku: `sku-${Math.floor(r * 5003)}` };
}

const userId = (u: number) => `u${u}`;
const anonymousId = (u: number) => `a-${u.toString(36)}`;
/** Message ids of person u's load events: `<prefix><k>`. */
const loadMessageIdPrefix = (runId: string, u: number) => `${runId}-l${u}-`;

/** An event of person `u`; `t` (the behaviour) decides its context. */
function event(type: 'identify' | 'track', u: number, t: number, messageId: string, at: number, body: Record<string, unknown>): Record<string, unknown> {
  return {
    type, messageId, userId: userId(u), anonymousId: anonymousId(u), timestamp: new Date(at).toISOString(),
    context: {
      ip: `10.${(t >> 16) & 255}.${(t >> 8) & 255}.${t & 255}`, userAgent: MOBILE_UA,
      library: { name: 'analytics.js', version: '4.1.0' }, page: { path: `/c/${t % 97}`, referrer: 'https://www.example.com/' },
    },
    ...body,
  };
}

/**
 * The load events of person `u`, doing what behaviour `t = u mod behaviours` does: an identify
 * with 8 traits, then one or two track events (the second usually the next step of the funnel),
 * spread over the last 30 days.
 */
function personEvents(runId: string, u: number, behaviours: number, now: number): Record<string, unknown>[] {
  const t = u % behaviours;
  const mid = loadMessageIdPrefix(runId, u);
  const start = now - Math.floor((1 + unit(t, 20) * 29) * DAY);
  const out = [event('identify', u, t, `${mid}0`, start, { traits: traitsOf(t, now) })];
  const r = unit(t, 21);
  let name = r < 0.45 ? 'Product Viewed' : r < 0.7 ? 'Added to Cart' : r < 0.9 ? 'Purchase' : 'Newsletter Opened';
  let at = start + Math.floor(unit(t, 22) * 2 * HOUR);
  out.push(event('track', u, t, `${mid}1`, at, { event: name, properties: trackProperties(name, unit(t, 23)) }));
  if (unit(t, 24) < 0.5) {
    name = unit(t, 25) < 0.6 ? (FUNNEL[name] as string) : pick(Object.keys(FUNNEL), unit(t, 26));
    at = Math.min(now - 60_000, at + Math.floor(unit(t, 27) * 3 * DAY));
    out.push(event('track', u, t, `${mid}2`, at, { event: name, properties: trackProperties(name, unit(t, 28)) }));
  }
  return out;
}

const encoder = new TextEncoder();

function message(runId: string, n: number, events: readonly Record<string, unknown>[]): BenchMessage {
  return { data: encoder.encode(JSON.stringify({ batch: events })), msgId: `${runId}-m${n}-${String(events[0]?.['messageId'])}`, events: events.length };
}

/** The load messages of people [from, to), built as they are published (a million people do not fit in memory as JSON). */
function* loadMessages(runId: string, from: number, to: number, behaviours: number, perMessage: number, now: number): Generator<BenchMessage> {
  let pending: Record<string, unknown>[] = [];
  let n = 0;
  for (let u = from; u < to; u++) {
    pending.push(...personEvents(runId, u, behaviours, now));
    if (pending.length >= perMessage) {
      yield message(runId, n++, pending);
      pending = [];
    }
  }
  if (pending.length > 0) yield message(runId, n, pending);
}

/**
 * `total` events on existing people, chosen uniformly: 90% track events dated now (funnel steps
 * with properties), 10% identify calls changing plan, ltv and interests.
 */
function steadyMessages(runId: string, total: number, perMessage: number, profiles: number, now: number): BenchMessage[] {
  const out: BenchMessage[] = [];
  for (let start = 0; start < total; start += perMessage) {
    const events: Record<string, unknown>[] = [];
    for (let i = start; i < Math.min(total, start + perMessage); i++) {
      const u = Math.floor(unit(i, 30) * profiles);
      const r = unit(i, 31);
      if (r < 0.1) {
        const t = traitsOf(Math.floor(unit(i, 32) * profiles), now);
        events.push(event('identify', u, u, `${runId}-${i}`, now + i, { traits: { plan: t['plan'], ltv: t['ltv'], interests: t['interests'] } }));
      } else {
        const name = r < 0.55 ? 'Product Viewed' : r < 0.75 ? 'Added to Cart' : r < 0.9 ? 'Purchase' : 'Newsletter Opened';
        events.push(event('track', u, u, `${runId}-${i}`, now + i, { event: name, properties: trackProperties(name, unit(i, 33)) }));
      }
    }
    out.push(message(runId, start / perMessage, events));
  }
  return out;
}

// --- the segments ------------------------------------------------------------------------------

/** The kinds of segment the bench defines (each id starts with its number and kind). */
export const SEGMENT_KINDS = ['trait', 'list', 'date', 'event', 'recency', 'not-did', 'sequence', 'reference', 'nested'] as const;
type Kind = (typeof SEGMENT_KINDS)[number];

interface BenchSegment {
  readonly id: string;
  readonly kind: Kind;
  readonly name: string;
  readonly rule: unknown;
}

const last = (n: number, unit = 'days') => ({ last: n, unit });
const trait = (name: string, op: string, value?: unknown) => (value === undefined ? { trait: name, op } : { trait: name, op, value });
const count = (name: string, op: string, value: number, window?: unknown, where?: unknown) => ({ event: name, op, value, ...(where === undefined ? {} : { where }), ...(window === undefined ? {} : { window }) });
const category = (c: string) => ({ property: 'category', op: 'eq', value: c });

/** 100 segments: trait comparisons, lists and ranges, dates, windowed aggregates, recency, did-not-do, sequences, references, nesting. */
export function benchSegments(now: number): BenchSegment[] {
  const out: BenchSegment[] = [];
  const add = (kind: Kind, name: string, rule: unknown): string => {
    const id = `s${String(out.length).padStart(3, '0')}-${kind}`;
    out.push({ id, kind, name, rule });
    return id;
  };
  // Trait comparisons (15).
  const plan: Record<string, string> = {};
  for (const p of ['free', 'pro', 'enterprise']) plan[p] = add('trait', `Plan ${p}`, trait('plan', 'eq', p));
  for (const c of ['US', 'GB', 'FR', 'DE']) add('trait', `Country ${c}`, trait('country', 'eq', c));
  add('trait', 'Age 60+', trait('age', 'gte', 60));
  add('trait', 'Under 25', trait('age', 'lt', 25));
  add('trait', 'Over 40', trait('age', 'gt', 40));
  add('trait', '30 or younger', trait('age', 'lte', 30));
  const highLtv = add('trait', 'LTV over 1500', trait('ltv', 'gt', 1500));
  add('trait', 'LTV 1000+', trait('ltv', 'gte', 1000));
  const newsletter = add('trait', 'Newsletter subscribers', trait('newsletter', 'eq', true));
  const paying = add('trait', 'Paying plans', trait('plan', 'neq', 'free'));
  // in / contains / between (12).
  const eu5 = add('list', 'EU5', trait('country', 'in', ['FR', 'DE', 'ES', 'IT', 'NL']));
  add('list', 'US and GB', trait('country', 'in', ['US', 'GB']));
  add('list', 'Outside the big four', trait('country', 'not_in', ['US', 'GB', 'FR', 'DE']));
  const interest: Record<string, string> = {};
  for (const i of ['sports', 'travel', 'tech', 'gaming']) interest[i] = add('list', `Into ${i}`, trait('interests', 'contains', i));
  add('list', 'Pixel owners', trait('device', 'contains', 'Pixel'));
  add('list', 'iPhone owners', trait('device', 'contains', 'iPhone'));
  add('list', 'Aged 25-34', trait('age', 'between', [25, 34]));
  add('list', 'Aged 35-44', trait('age', 'between', [35, 44]));
  add('list', 'LTV 100-300', trait('ltv', 'between', [100, 300]));
  // Dates, relative and absolute (6).
  const recentSignup = add('date', 'Signed up in the last 30 days', { trait: 'signup_at', op: 'after', relative: { ago: 30, unit: 'days' } });
  add('date', 'Signed up in the last 90 days', { trait: 'signup_at', op: 'after', relative: { ago: 90, unit: 'days' } });
  add('date', 'Signed up in the last year', { trait: 'signup_at', op: 'after', relative: { ago: 52, unit: 'weeks' } });
  add('date', 'Customers for over a year', { trait: 'signup_at', op: 'before', relative: { ago: 365, unit: 'days' } });
  add('date', 'Customers for over two years', { trait: 'signup_at', op: 'before', relative: { ago: 104, unit: 'weeks' } });
  add('date', 'Signed up since a fixed date', trait('signup_at', 'after', new Date(now - 500 * DAY).toISOString().slice(0, 10)));
  // Event count, sum, min, max in windows (20).
  const viewed1d = add('event', 'Viewed a product today', count('Product Viewed', 'gte', 1, last(1)));
  add('event', 'Viewed a product this week', count('Product Viewed', 'gte', 1, last(7)));
  add('event', 'Viewed a product this month', count('Product Viewed', 'gte', 1, last(30)));
  add('event', 'Viewed twice this month', count('Product Viewed', 'gte', 2, last(30)));
  const carted: Record<string, string> = {};
  for (const c of ['shoes', 'electronics', 'books', 'home']) carted[c] = add('event', `Carted ${c} this week`, count('Added to Cart', 'gte', 1, last(7), category(c)));
  const buyers = add('event', 'Ever purchased', { event: 'Purchase', op: 'gte', count: 1 });
  add('event', 'Purchase over 100 this month', count('Purchase', 'gte', 1, last(30), { property: 'revenue', op: 'gt', value: 100 }));
  const spent200 = add('event', 'Spent 200+ this month', { event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: last(30), op: 'gte', value: 200 });
  const spent400 = add('event', 'Spent 400+ this month', { event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: last(30), op: 'gte', value: 400 });
  add('event', 'A purchase of 300+ ever', { event: 'Purchase', aggregate: { fn: 'max', property: 'revenue' }, op: 'gte', value: 300 });
  add('event', 'A small purchase this month', { event: 'Purchase', aggregate: { fn: 'min', property: 'revenue' }, window: last(30), op: 'lte', value: 50 });
  add('event', 'Exactly one view in 14 days', { event: 'Product Viewed', window: last(14), op: 'between', value: [1, 1] });
  add('event', 'Opened a newsletter this month', count('Newsletter Opened', 'gte', 1, last(30)));
  add('event', 'Purchased in a fixed range', count('Purchase', 'gte', 1, { from: new Date(now - 15 * DAY).toISOString().slice(0, 10), to: new Date(now + DAY).toISOString().slice(0, 10) }));
  add('event', 'Identified at least once', { event: '$identify', op: 'gte', count: 1 });
  add('event', 'Carted this month', count('Added to Cart', 'gte', 1, last(30)));
  add('event', 'Browsed 150+ of prices this week', { event: 'Product Viewed', aggregate: { fn: 'sum', property: 'price' }, window: last(7), op: 'gte', value: 150 });
  // Recency (8).
  const seen: Record<number, string> = {};
  for (const d of [1, 3, 7, 14]) seen[d] = add('recency', `Seen in the last ${d} days`, { recency: { within: last(d) } });
  add('recency', 'Purchased within 7 days', { recency: { within: last(7), event: 'Purchase' } });
  add('recency', 'Purchased within 30 days', { recency: { within: last(30), event: 'Purchase' } });
  add('recency', 'Viewed electronics within 3 days', { recency: { within: last(3), event: 'Product Viewed', where: category('electronics') } });
  add('recency', 'Viewed beauty within a week', { recency: { within: last(1, 'weeks'), event: 'Product Viewed', where: category('beauty') } });
  // Did not do (8).
  const abandoned: Record<string, string> = {};
  for (const c of ['shoes', 'electronics', 'home']) {
    abandoned[c] = add('not-did', `Abandoned ${c} cart`, { all: [count('Added to Cart', 'gte', 1, last(7), category(c)), { not_did: 'Purchase', window: last(7) }] });
  }
  add('not-did', 'Subscribed but not opening', { all: [trait('newsletter', 'eq', true), { not_did: 'Newsletter Opened', window: last(30) }] });
  add('not-did', 'Pro, never purchased', { all: [trait('plan', 'eq', 'pro'), { not_did: 'Purchase' }] });
  add('not-did', 'Enterprise, no views this week', { all: [trait('plan', 'eq', 'enterprise'), { not_did: 'Product Viewed', window: last(7) }] });
  add('not-did', 'Active, never carted this month', { all: [{ recency: { within: last(30) } }, { not_did: 'Added to Cart', window: last(30) }] });
  add('not-did', 'US, no big purchase this month', { all: [trait('country', 'eq', 'US'), { not_did: 'Purchase', where: { property: 'revenue', op: 'gt', value: 100 }, window: last(30) }] });
  // Sequences: A then B within N (8).
  add('sequence', 'Viewed then carted within an hour', { sequence: ['Product Viewed', 'Added to Cart'], within: last(1, 'hours') });
  add('sequence', 'Viewed then carted within a day', { sequence: ['Product Viewed', 'Added to Cart'], within: last(1) });
  const cartToBuy = add('sequence', 'Carted then bought within a day', { sequence: ['Added to Cart', 'Purchase'], within: last(1) });
  add('sequence', 'Carted then bought within a week', { sequence: ['Added to Cart', 'Purchase'], within: last(7) });
  for (const c of ['shoes', 'electronics']) add('sequence', `Viewed ${c} then bought within 2 days`, { sequence: [{ event: 'Product Viewed', where: category(c) }, 'Purchase'], within: last(2) });
  add('sequence', 'Full funnel within a week', { sequence: ['Product Viewed', 'Added to Cart', 'Purchase'], within: last(7) });
  add('sequence', 'Newsletter then purchase, this month', { sequence: ['Newsletter Opened', 'Purchase'], within: last(3), window: last(30) });
  // Membership of other segments (10), two of them two references deep.
  const euPro = add('reference', 'EU5 on a paying plan', { all: [{ segment: eu5 }, { segment: paying }] });
  add('reference', 'EU5 shoe abandoners', { all: [{ segment: abandoned['shoes'] }, { segment: eu5 }] });
  add('reference', 'Paying and seen this week', { all: [{ not: { segment: plan['free'] as string } }, { segment: seen[7] }] });
  const bigSpenders = add('reference', 'Big spenders', { any: [{ segment: highLtv }, { segment: spent400 }] });
  add('reference', 'Big spenders over 30', { all: [{ segment: bigSpenders }, trait('age', 'gte', 30)] });
  add('reference', 'EU5 paying, active today', { all: [{ segment: euPro }, { segment: viewed1d }] });
  add('reference', 'Buyers not in a big-spender segment', { all: [{ segment: buyers }, { not: { segment: bigSpenders } }] });
  add('reference', 'Subscribers who spent 200+', { all: [{ segment: newsletter }, { segment: spent200 }] });
  add('reference', 'New and already buying', { all: [{ segment: recentSignup }, { segment: cartToBuy }] });
  add('reference', 'Electronics abandoners into tech', { all: [{ segment: abandoned['electronics'] }, { segment: interest['tech'] }] });
  // Nested all / any / not (13).
  add('nested', 'Engaged paying', { any: [{ all: [trait('plan', 'eq', 'pro'), count('Product Viewed', 'gte', 1, last(7))] }, { all: [trait('plan', 'eq', 'enterprise'), trait('interests', 'contains', 'tech')] }] });
  add('nested', 'Not US/GB, not under 25', { not: { any: [trait('country', 'in', ['US', 'GB']), trait('age', 'lt', 25)] } });
  add('nested', 'Active players', { all: [{ any: [trait('interests', 'contains', 'sports'), trait('interests', 'contains', 'gaming')] }, { not: trait('plan', 'eq', 'free') }, { recency: { within: last(14) } }] });
  for (const c of ['shoes', 'electronics', 'books', 'home', 'beauty', 'toys']) {
    add('nested', `${c} intenders`, {
      all: [
        { any: [count('Product Viewed', 'gte', 1, last(7), category(c)), count('Added to Cart', 'gte', 1, last(30), category(c))] },
        { not: { event: 'Purchase', where: category(c), window: last(30), op: 'gte', value: 1 } },
        { any: [trait('age', 'between', [25, 54]), trait('ltv', 'gte', 500)] },
      ],
    });
  }
  add('nested', 'Lapsed EU buyers', { all: [trait('country', 'in', ['FR', 'DE', 'ES', 'IT']), { event: 'Purchase', op: 'gte', value: 1 }, { not: { recency: { within: last(7) } } }] });
  add('nested', 'Travel or finance, rich or loyal', { all: [{ any: [trait('interests', 'contains', 'travel'), trait('interests', 'contains', 'finance')] }, { any: [trait('ltv', 'gte', 1200), { trait: 'signup_at', op: 'before', relative: { ago: 2, unit: 'weeks' } }] }] });
  add('nested', 'Mobile window shoppers', { all: [{ any: [trait('device', 'contains', 'iPhone'), trait('device', 'contains', 'Pixel')] }, count('Product Viewed', 'gte', 1, last(30)), { not_did: 'Purchase', window: last(30) }] });
  add('nested', 'Newsletter-driven buyers, not enterprise', { all: [{ not: trait('plan', 'eq', 'enterprise') }, { any: [{ all: [count('Newsletter Opened', 'gte', 1, last(30)), count('Purchase', 'gte', 1, last(30))] }, { sequence: ['Newsletter Opened', 'Added to Cart'], within: last(2) }] }] });
  if (out.length !== 100) throw new Error(`benchSegments: ${out.length} segments, expected 100`);
  return out;
}

/** Draft rules for Estimate (text and JSON forms), and a stored segment with the same rule when there is one. */
function estimateRules(segments: readonly BenchSegment[]): { label: string; rule: string; sameAs?: string }[] {
  const find = (name: string) => segments.find((s) => s.name === name);
  const viewed = find('Viewed a product this week');
  const funnel = find('Carted then bought within a week');
  return [
    { label: 'traits: plan = "pro" and country in [...]', rule: 'plan = "pro" and country in ["FR", "DE", "ES"]' },
    { label: 'count in a window (feature kept in Redis)', rule: JSON.stringify(viewed?.rule), ...(viewed === undefined ? {} : { sameAs: viewed.id }) },
    { label: 'sum in a window (new feature: warehouse only)', rule: 'sum("Purchase".revenue where currency = "EUR") in last 14 days >= 150' },
    { label: 'sequence A then B within N', rule: JSON.stringify(funnel?.rule), ...(funnel === undefined ? {} : { sameAs: funnel.id }) },
    { label: 'nested, with a segment reference and not', rule: `segment("${find('Big spenders')?.id ?? ''}") and not last seen within 3 days and (age >= 30 or interests contains "travel")` },
  ];
}

// --- measuring ---------------------------------------------------------------------------------

interface LoadResult {
  readonly profiles: number;
  readonly events: number;
  readonly messages: number;
  /** Spawn of the first publish until Pulse counted every event. */
  readonly seconds: number;
  readonly publishSeconds: number;
  readonly eventsPerSecond: number;
  readonly profilesPerSecond: number;
  readonly segmentChanges: number;
  readonly evaluations: number;
  readonly deadLettered: number;
  readonly cpuSeconds: Record<string, number>;
  readonly loadAverage: string[];
}

/**
 * Publishes the load events of people [from, to) (a bounded window of publishes awaiting acks)
 * and waits until Pulse applied all of them.
 */
async function load(
  p: BenchPulse, nc: NatsConnection, redis: Redis, plan: SegmentsPlan, people: { from: number; to: number }, runId: string, now: number,
  pids: Readonly<Record<string, number | 'self' | undefined>>,
): Promise<LoadResult> {
  const profiles = people.to - people.from;
  const js = jetstream(nc);
  const subject = streamNames(p.namespace).eventsSubject(BENCH_TENANT);
  const before = await p.scrape();
  const meter = new CpuMeter(pids).start();
  const t0 = performance.now();
  let events = 0;
  let messages = 0;
  let publishing = true;
  const loadAverage: string[] = [];
  const published = (async () => {
    const inFlight = new Set<Promise<unknown>>();
    for (const m of loadMessages(runId, people.from, people.to, plan.behaviours, plan.perMessage, now)) {
      const ack = js.publish(subject, m.data, { msgID: m.msgId, timeout: 60_000 });
      const tracked: Promise<unknown> = ack.then(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      events += m.events;
      messages++;
      if (inFlight.size >= plan.publishWindow) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    publishing = false;
    return (performance.now() - t0) / 1000;
  })();
  let publishSeconds = 0;
  let failure: Error | undefined;
  published.then((s) => { publishSeconds = s; }, (err: unknown) => { failure = err instanceof Error ? err : new Error(String(err)); });
  let lastLog = t0;
  for (;;) {
    await sleep(500);
    if (failure !== undefined) throw failure;
    const done = (await p.scrape()).processed() - before.processed();
    if (!publishing && done >= events) break;
    const t = performance.now();
    if (t - lastLog >= 15_000) {
      lastLog = t;
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
      const la = loadavg().map((l) => l.toFixed(2)).join(' ');
      loadAverage.push(la);
      log(`  loading: ${si(done)} of ${publishing ? `${si(events)}+` : si(events)} events applied after ${Math.round((t - t0) / 1000)} s (${si(done / ((t - t0) / 1000))} events/s); Redis used_memory ${(used / 2 ** 20).toFixed(0)} MiB; load average ${la}`);
    }
    if (t - t0 > plan.loadTimeoutMs) throw new Error(`loading: Pulse applied ${done} of ${events} events in ${plan.loadTimeoutMs / 1000} s`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  const after = await p.scrape();
  const d = (name: string, match: Record<string, string> = {}) => after.sum(name, match) - before.sum(name, match);
  return {
    profiles, events, messages, seconds: round(seconds, 1), publishSeconds: round(publishSeconds, 1),
    eventsPerSecond: Math.round(events / seconds), profilesPerSecond: Math.round(profiles / seconds),
    segmentChanges: d('pulse_segment_changes_total'), evaluations: d('pulse_segment_evaluations_total', { path: 'ingest' }),
    deadLettered: d('pulse_events_dead_lettered_total'), cpuSeconds: cpu.cpuSeconds, loadAverage,
  };
}

interface CloneResult {
  readonly profiles: number;
  readonly seconds: number;
  readonly profilesPerSecond: number;
  readonly redisCpuSeconds: number;
}

/** Profile ids of people, by their user_id (pipelined GETs). */
async function profileIds(redis: Redis, keys: TenantKeys, people: readonly number[]): Promise<string[]> {
  const pipeline = redis.pipeline();
  for (const u of people) pipeline.get(keys.identifier({ type: 'user_id', id: userId(u) }));
  return ((await pipeline.exec()) ?? []).map(([err, v], i) => {
    if (err !== null || typeof v !== 'string') throw new Error(`no profile for ${userId(people[i] ?? -1)}`);
    return v;
  });
}

/**
 * People [from, to) get copies of the profile of their behaviour (person u mod behaviours, loaded
 * through ingest), with their own profile id, identifiers and message ids (bench/clone-profiles.lua).
 */
async function cloneProfiles(redis: Redis, namespace: string, plan: SegmentsPlan, people: { from: number; to: number }, runId: string, pids: Readonly<Record<string, number | 'self' | undefined>>): Promise<CloneResult> {
  const keys = tenantKeys(namespace, BENCH_TENANT);
  const script = readFileSync(new URL('./clone-profiles.lua', import.meta.url), 'utf8');
  const sha = String(await redis.script('LOAD', script));
  const templates = await profileIds(redis, keys, Array.from({ length: plan.behaviours }, (_, t) => t));
  const meter = new CpuMeter(pids).start();
  const t0 = performance.now();
  // 50 profiles a call keep each script's hold on Redis near 15 ms (other clients share it).
  const perCall = 50;
  const inFlight = 16;
  let lastLog = t0;
  for (let start = people.from; start < people.to; start += perCall * inFlight) {
    const pipeline = redis.pipeline();
    for (let a = start; a < Math.min(people.to, start + perCall * inFlight); a += perCall) {
      const args: string[] = [];
      for (let u = a; u < Math.min(people.to, a + perCall); u++) {
        const t = u % plan.behaviours;
        args.push(templates[t] as string, randomUUID(), userId(t), userId(u), anonymousId(t), anonymousId(u), loadMessageIdPrefix(runId, t), loadMessageIdPrefix(runId, u));
      }
      pipeline.evalsha(sha, 1, keys.prefix, ...args);
    }
    for (const [err] of (await pipeline.exec()) ?? []) if (err !== null) throw err;
    const t = performance.now();
    if (t - lastLog >= 15_000) {
      lastLog = t;
      log(`  copying: ${si(start - people.from)} of ${si(people.to - people.from)} profiles after ${Math.round((t - t0) / 1000)} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  const profiles = people.to - people.from;
  return { profiles, seconds: round(seconds, 1), profilesPerSecond: Math.round(profiles / seconds), redisCpuSeconds: cpu.cpuSeconds['redis-server'] ?? 0 };
}

/** Everything Redis holds for person u's profile, with its own ids replaced by placeholders (and the evaluation time left out). */
async function profileState(redis: Redis, keys: TenantKeys, runId: string, u: number, pid: string): Promise<string> {
  const pk = keys.profile(pid);
  const mid = loadMessageIdPrefix(runId, u);
  const norm = (v: string) => v.replaceAll(pid, '<pid>').replaceAll(mid, '<mid>-').replace(`user_id:${userId(u)}`, 'user_id:<user>').replace(`anonymous_id:${anonymousId(u)}`, 'anonymous_id:<anon>');
  const sortedObject = (h: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(h).map(([k, v]): [string, string] => [norm(k), norm(v)]).sort());
  const hash = (key: string): Promise<Record<string, string>> => redis.hgetall(key);
  const profile = await hash(pk.hash);
  const [traits, tord, counts, computed, ftotals] = [await hash(pk.traits), await hash(pk.tord), await hash(pk.counts), await hash(pk.computed), await hash(pk.ftotals)];
  const [segs, ids, fkeys] = [await redis.smembers(pk.segs), await redis.smembers(pk.ids), await redis.smembers(pk.fkeys)];
  const due = await redis.zscore(keys.due, pid);
  delete profile['seg_at'];
  const features: Record<string, string[]> = {};
  for (const fid of fkeys.sort()) features[fid] = (await redis.zrange(pk.feature(fid), 0, -1, 'WITHSCORES')).map(norm);
  const members = await Promise.all(segs.map((sid) => redis.sismember(keys.segMembers(sid), pid)));
  const perEvent: Record<string, string | null> = {};
  for (let k = 0; k < 3; k++) {
    for (const kind of ['dedup', 'applied', 'fdedup'] as const) {
      const v = await redis.get(keys[kind](`${mid}${k}`));
      perEvent[`${kind}:${k}`] = v === null ? null : norm(v);
    }
  }
  const identity = await Promise.all(ids.map(async (idf) => [norm(idf), (await redis.get(keys.identifier(parseIdentifierKey(idf)))) === pid] as const));
  return JSON.stringify({
    profile: sortedObject(profile), traits: sortedObject(traits), tord: sortedObject(tord), counts: sortedObject(counts), computed: sortedObject(computed),
    ftotals: sortedObject(ftotals), segs: segs.sort(), inMemberSets: members.every((m) => m === 1), ids: identity.sort(), features, due, perEvent,
  });
}

interface ControlCheck {
  readonly controls: number;
  readonly identical: number;
  /** People whose state differs from the copy's, with the first difference. */
  readonly differences: { control: number; copy: number; control_state: string; copy_state: string }[];
}

/** Compares people loaded through ingest with copies of the same behaviour, key by key. */
async function compareControls(redis: Redis, namespace: string, plan: SegmentsPlan, controls: { from: number; to: number }, runId: string): Promise<ControlCheck> {
  const keys = tenantKeys(namespace, BENCH_TENANT);
  let identical = 0;
  const differences: ControlCheck['differences'] = [];
  for (let c = controls.from; c < controls.to; c++) {
    // A person of the same behaviour, below the controls: a copy (or the ingested template itself).
    const copy = c - plan.behaviours;
    const [cp, pp] = await profileIds(redis, keys, [c, copy]);
    const a = await profileState(redis, keys, runId, c, cp as string);
    const b = await profileState(redis, keys, runId, copy, pp as string);
    if (a === b) identical++;
    else if (differences.length < 5) differences.push({ control: c, copy, control_state: a, copy_state: b });
  }
  return { controls: controls.to - controls.from, identical, differences };
}

/** A key kind: the key with ids replaced by placeholders. */
function keyKind(key: string, prefix: string): string {
  if (!key.startsWith(prefix)) return key.replace(/^[^:]+:/, '<ns>:');
  const k = key.slice(prefix.length);
  let m: RegExpExecArray | null;
  if (/^p:[^:]+$/.test(k)) return 'p:<pid>';
  if ((m = /^p:[^:]+:f:[^:]+$/.exec(k)) !== null) return 'p:<pid>:f:<feature>';
  if ((m = /^p:[^:]+:([a-z_]+)$/.exec(k)) !== null) return `p:<pid>:${m[1] ?? ''}`;
  if ((m = /^id:([^:]+):/.exec(k)) !== null) return `id:${m[1] ?? ''}:<id>`;
  if ((m = /^(dedup|applied|fdedup):/.exec(k)) !== null) return `${m[1] ?? ''}:<messageId>`;
  if (/^seg:[^:]+:members$/.test(k)) return 'seg:<segment>:members';
  if ((m = /^segdef:[^:]+:([a-z]+)$/.exec(k)) !== null) return `segdef:<segment>:${m[1] ?? ''}`;
  return k;
}

interface KeyKindMemory {
  readonly kind: string;
  readonly keys: number;
  readonly sampled: number;
  readonly meanBytes: number;
  /** keys x mean bytes. */
  readonly totalBytes: number;
}

interface MemoryResult {
  readonly usedMemoryBefore: number;
  readonly usedMemoryAfter: number;
  readonly usedMemoryPerProfile: number;
  /** Sum over key kinds of keys x mean MEMORY USAGE (this namespace only). */
  readonly sampledTotalBytes: number;
  readonly sampledPerProfile: number;
  readonly keys: number;
  readonly profiles: number;
  readonly scanSeconds: number;
  readonly kinds: KeyKindMemory[];
}

/** Counts the namespace's keys by kind (SCAN) and reads MEMORY USAGE of the first `samples` keys of each kind. */
async function memoryBreakdown(redis: Redis, namespace: string, samples: number): Promise<Omit<MemoryResult, 'usedMemoryBefore' | 'usedMemoryAfter' | 'usedMemoryPerProfile' | 'sampledPerProfile' | 'profiles'>> {
  const t0 = performance.now();
  const { prefix } = tenantKeys(namespace, BENCH_TENANT);
  const counts = new Map<string, { keys: number; sample: string[] }>();
  let cursor = '0';
  let keys = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 10_000);
    cursor = next;
    for (const key of found) {
      keys++;
      const kind = keyKind(key, prefix);
      const c = counts.get(kind) ?? { keys: 0, sample: [] };
      c.keys++;
      if (c.sample.length < samples) c.sample.push(key);
      counts.set(kind, c);
    }
  } while (cursor !== '0');
  const kinds: KeyKindMemory[] = [];
  for (const [kind, c] of counts) {
    const pipeline = redis.pipeline();
    for (const key of c.sample) pipeline.memory('USAGE', key, 'SAMPLES', 0);
    const sizes = ((await pipeline.exec()) ?? []).map(([err, v]) => (err === null && typeof v === 'number' ? v : 0));
    const meanBytes = sizes.length === 0 ? 0 : sizes.reduce((a, b) => a + b, 0) / sizes.length;
    kinds.push({ kind, keys: c.keys, sampled: c.sample.length, meanBytes: round(meanBytes, 1), totalBytes: Math.round(meanBytes * c.keys) });
  }
  kinds.sort((a, b) => b.totalBytes - a.totalBytes);
  return { sampledTotalBytes: kinds.reduce((s, k) => s + k.totalBytes, 0), keys, scanSeconds: round((performance.now() - t0) / 1000, 1), kinds };
}

/**
 * Waits until the processor's consumer has nothing pending or unacknowledged (a batch that failed,
 * e.g. on a publish timeout, is redelivered and applied again before this returns).
 */
async function waitIdle(nc: NatsConnection, namespace: string, timeoutMs: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const names = streamNames(namespace);
  const t0 = performance.now();
  for (;;) {
    const info = await jsm.consumers.info(names.events, names.processorDurable);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return round((performance.now() - t0) / 1000, 1);
    if (performance.now() - t0 > timeoutMs) throw new Error(`the processor still has ${info.num_pending} pending and ${info.num_ack_pending} unacknowledged messages after ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
}

interface EstimateRun {
  readonly label: string;
  readonly rule: string;
  readonly calls: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly last: { estimate: number; low: number; high: number; sampleSize: number; sampleMatches: number; population: number };
  /** Members of the stored segment with the same rule (SCARD), when there is one. */
  readonly exact?: { segment: string; members: number; inInterval: boolean };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

async function estimates(p: BenchPulse, redis: Redis, segments: readonly BenchSegment[], calls: number): Promise<EstimateRun[]> {
  const client = new (loadPulseGrpc().pulse.v1.SegmentService)(`${HOST}:${p.grpcPort}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${p.apiKey}`);
  const call = (rule: string) => new Promise<EstimateSegmentResponse__Output>((resolve, reject) => {
    client.EstimateSegment({ rule, sampleSize: 0 }, md, { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : res === undefined ? reject(new Error('EstimateSegment: no response')) : resolve(res)));
  });
  const keys = tenantKeys(p.namespace, BENCH_TENANT);
  const out: EstimateRun[] = [];
  try {
    for (const r of estimateRules(segments)) {
      await call(r.rule);
      const times: number[] = [];
      let res: EstimateSegmentResponse__Output | undefined;
      for (let k = 0; k < calls; k++) {
        const t0 = performance.now();
        res = await call(r.rule);
        times.push(performance.now() - t0);
      }
      if (res === undefined) throw new Error('no Estimate call');
      const sorted = [...times].sort((a, b) => a - b);
      const lastRes = { estimate: Number(res.estimate), low: Number(res.low), high: Number(res.high), sampleSize: Number(res.sampleSize), sampleMatches: Number(res.sampleMatches), population: Number(res.population) };
      let exact: EstimateRun['exact'];
      if (r.sameAs !== undefined) {
        const members = await redis.scard(keys.segMembers(r.sameAs));
        exact = { segment: r.sameAs, members, inInterval: members >= lastRes.low && members <= lastRes.high };
      }
      const run: EstimateRun = {
        label: r.label, rule: r.rule, calls, p50Ms: round(percentile(sorted, 0.5), 1), p99Ms: round(percentile(sorted, 0.99), 1), maxMs: round(sorted.at(-1) ?? NaN, 1),
        meanMs: round(times.reduce((a, b) => a + b, 0) / times.length, 1), last: lastRes, ...(exact === undefined ? {} : { exact }),
      };
      log(`  Estimate ${r.label}: p50 ${ms(run.p50Ms)}, p99 ${ms(run.p99Ms)}, max ${ms(run.maxMs)}; estimate ${si(lastRes.estimate)} [${si(lastRes.low)}, ${si(lastRes.high)}] from ${lastRes.sampleMatches}/${lastRes.sampleSize} of ${si(lastRes.population)}`
        + `${exact === undefined ? '' : `; stored segment ${exact.segment} has ${si(exact.members)} members (${exact.inInterval ? 'inside' : 'OUTSIDE'} the interval)`}`);
      out.push(run);
    }
  } finally {
    client.close();
  }
  return out;
}

/** Every attempt sends the same people events (the draws depend on the event's index only): the first touches them for the first time since loading. */
function touch(attempt: number): string {
  return attempt === 0 ? 'first events since loading' : `the same people again (${attempt + 1})`;
}

interface SteadyRun extends IngestResult {
  readonly evaluations: { ingest: number; clock: number };
  readonly loadAverage: string;
}

export interface SegmentsBench {
  readonly plan: SegmentsPlan;
  readonly segments: { total: number; byKind: Record<string, number>; createSeconds: number };
  /** The people loaded through ingest (u < behaviours). */
  readonly load: LoadResult;
  /** The people whose profiles were copied from those. */
  readonly copied?: CloneResult;
  /** People loaded through ingest after the copies, compared with copies of the same behaviour. */
  readonly controls?: { load: LoadResult; check: ControlCheck };
  readonly memory: MemoryResult;
  readonly membership: { perProfile: number; largestSegments: { id: string; members: number }[]; emptySegments: number };
  readonly steady: SteadyRun[];
  readonly estimates: EstimateRun[];
  /** --cpu-prof: where the CPU went while loading, during the first steady attempt and the Estimate calls. */
  readonly profiles?: { load: ProfileSummary; steady: ProfileSummary; estimate: ProfileSummary };
}

/** The phase, against a started bench Pulse in a fresh namespace. */
async function measure(p: BenchPulse, nc: NatsConnection, redis: Redis, plan: SegmentsPlan, pids: Readonly<Record<string, number | 'self' | undefined>>, profiler: CpuProfiler | undefined, root: string): Promise<SegmentsBench> {
  const now = Date.now();
  const runId = randomSuffix(3);
  const segments = benchSegments(now);
  const byKind: Record<string, number> = {};
  for (const s of segments) byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
  const tc = performance.now();
  await createSegments(p, segments);
  const createSeconds = round((performance.now() - tc) / 1000, 1);
  log(`  created ${segments.length} segments through SegmentService in ${createSeconds} s (${Object.entries(byKind).map(([k, n]) => `${n} ${k}`).join(', ')})`);
  // The processor reads definitions at most once a second.
  await sleep(1_500);

  const usedBefore = await usedMemory(redis);
  const templates = { from: 0, to: plan.behaviours };
  const copies = { from: plan.behaviours, to: plan.profiles - plan.controls };
  const controls = { from: plan.profiles - plan.controls, to: plan.profiles };
  log(`  loading ${si(plan.behaviours)} profiles through ingest (identify + 1-2 track events each, ${plan.perMessage} events/msg, ${plan.publishWindow} publishes in flight); Redis used_memory ${(usedBefore / 2 ** 20).toFixed(0)} MiB`);
  if (profiler !== undefined) await profiler.start();
  const loaded = await load(p, nc, redis, plan, templates, runId, now, pids);
  const loadProfile = profiler === undefined ? undefined : await profiler.stop('segments-load', root);
  log(`  loaded: ${si(loaded.events)} events (${loaded.messages} messages) in ${loaded.seconds} s = ${si(loaded.eventsPerSecond)} events/s, ${si(loaded.profilesPerSecond)} profiles/s; `
    + `${si(loaded.segmentChanges)} segment changes, ${si(loaded.evaluations)} profile evaluations; CPU s ${JSON.stringify(loaded.cpuSeconds)}`);
  if (loaded.deadLettered > 0) throw new Error(`loading: ${loaded.deadLettered} events were dead-lettered; the generator is wrong`);
  let copied: CloneResult | undefined;
  let controlLoad: LoadResult | undefined;
  let controlCheck: ControlCheck | undefined;
  if (copies.to > copies.from) {
    log(`  copying the ${si(plan.behaviours)} ingested profiles to ${si(copies.to - copies.from)} more people (bench/clone-profiles.lua)`);
    copied = await cloneProfiles(redis, p.namespace, plan, copies, runId, pids);
    log(`  copied ${si(copied.profiles)} profiles in ${copied.seconds} s (${si(copied.profilesPerSecond)} profiles/s, Redis CPU ${copied.redisCpuSeconds} s)`);
    controlLoad = await load(p, nc, redis, plan, controls, runId, now, pids);
    controlCheck = await compareControls(redis, p.namespace, plan, controls, runId);
    log(`  check: ${controlCheck.identical} of ${controlCheck.controls} people loaded through ingest (${controlLoad.events} events) have exactly the Redis state of a copy of the same behaviour`);
    for (const d of controlCheck.differences.slice(0, 2)) log(`    differs: u${d.control} ${d.control_state}\n       copy u${d.copy} ${d.copy_state}`);
  }

  // Memory right after loading, before the steady stream adds its own de-duplication keys.
  await waitIdle(nc, p.namespace, 10 * 60_000);
  const usedAfter = await usedMemory(redis);
  const profiles = await redis.scard(tenantKeys(p.namespace, BENCH_TENANT).profiles);
  if (profiles !== plan.profiles) throw new Error(`the profile index holds ${profiles} profiles, expected ${plan.profiles}`);
  const breakdown = await memoryBreakdown(redis, p.namespace, plan.memorySamples);
  const memory: MemoryResult = {
    usedMemoryBefore: usedBefore, usedMemoryAfter: usedAfter, usedMemoryPerProfile: Math.round((usedAfter - usedBefore) / profiles),
    ...breakdown, sampledPerProfile: Math.round(breakdown.sampledTotalBytes / profiles), profiles,
  };
  log(`  Redis memory: used_memory +${((usedAfter - usedBefore) / 2 ** 20).toFixed(0)} MiB = ${memory.usedMemoryPerProfile} bytes/profile; `
    + `MEMORY USAGE x keys of the namespace ${(breakdown.sampledTotalBytes / 2 ** 20).toFixed(0)} MiB = ${memory.sampledPerProfile} bytes/profile (${si(breakdown.keys)} keys, scan ${breakdown.scanSeconds} s)`);
  for (const k of breakdown.kinds.slice(0, 14)) log(`    ${k.kind.padEnd(28)} ${si(k.keys).padStart(6)} keys x ${String(Math.round(k.meanBytes)).padStart(6)} B = ${(k.totalBytes / profiles).toFixed(0).padStart(5)} B/profile`);
  const sizes = await Promise.all(segments.map(async (s) => ({ id: s.id, members: await redis.scard(tenantKeys(p.namespace, BENCH_TENANT).segMembers(s.id)) })));
  const memberships = sizes.reduce((a, s) => a + s.members, 0);
  const membership = {
    perProfile: round(memberships / profiles, 2), largestSegments: [...sizes].sort((a, b) => b.members - a.members).slice(0, 5), emptySegments: sizes.filter((s) => s.members === 0).length,
  };
  log(`  membership: ${membership.perProfile} segments per profile on average; ${membership.emptySegments} empty segments; largest ${membership.largestSegments.map((s) => `${s.id} ${si(s.members)}`).join(', ')}`);

  const steady: SteadyRun[] = [];
  let steadyProfile: ProfileSummary | undefined;
  for (let k = 0; k < plan.attempts; k++) {
    const messages = steadyMessages(`${runId}s${k}`, plan.steadyEvents, plan.perMessage, plan.profiles, Date.now());
    await waitIdle(nc, p.namespace, 10 * 60_000);
    const before = await p.scrape();
    if (profiler !== undefined && k === 0) await profiler.start();
    const r = await ingestRun(p, nc, redis, `steady stream on existing profiles, ${plan.perMessage} events/msg, ${touch(k)}`, messages, pids, 30 * 60_000);
    if (profiler !== undefined && k === 0) steadyProfile = await profiler.stop('segments-steady', root);
    const after = await p.scrape();
    const evals = (m: Metrics, path: string) => m.sum('pulse_segment_evaluations_total', { path });
    const evaluations = { ingest: evals(after, 'ingest') - evals(before, 'ingest'), clock: evals(after, 'clock') - evals(before, 'clock') };
    steady.push({ ...r, evaluations, loadAverage: loadavg().map((l) => l.toFixed(2)).join(' ') });
    log(`    ${si(evaluations.ingest)} profile evaluations on ingest, ${si(evaluations.clock)} by the segment clock meanwhile; ${si(r.segmentChanges)} membership changes published; load average ${steady.at(-1)?.loadAverage ?? ''}`);
  }

  const idleAfter = await waitIdle(nc, p.namespace, 10 * 60_000);
  log(`  Estimate: ${plan.estimateCalls} calls per draft rule over ${si(profiles)} profiles (default sample; the processor idle ${idleAfter} s after the steady stream was counted)`);
  if (profiler !== undefined) await profiler.start();
  const est = await estimates(p, redis, segments, plan.estimateCalls);
  const estimateProfile = profiler === undefined ? undefined : await profiler.stop('segments-estimate', root);
  return {
    plan, segments: { total: segments.length, byKind, createSeconds }, load: loaded, ...(copied === undefined ? {} : { copied }),
    ...(controlLoad === undefined || controlCheck === undefined ? {} : { controls: { load: controlLoad, check: controlCheck } }), memory, membership, steady, estimates: est,
    ...(loadProfile === undefined || steadyProfile === undefined || estimateProfile === undefined ? {} : { profiles: { load: loadProfile, steady: steadyProfile, estimate: estimateProfile } }),
  };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const duration = (seconds: number) => (seconds >= 3600 ? `${(seconds / 3600).toFixed(1)} h` : `${Math.round(seconds / 60)} min`);

/** The README block of this phase. */
function block(r: SegmentsBench, meta: { startedAt: Date; seconds: number; jsonFile: string; loadAtStart: string; otherAtStart: number }): string {
  const best = r.steady.reduce<SteadyRun | undefined>((a, s) => (a === undefined || s.eventsPerSecond > a.eventsPerSecond ? s : a), undefined);
  const cpuPerEvent = (cpu: Record<string, number>, events: number) => Object.entries(cpu).filter(([k, v]) => k !== 'reaped children' && v > 0).map(([k, v]) => `${k} ${Math.round((v / events) * 1e6)}`).join(', ');
  const lines = [
    `## Segments at scale (${meta.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}, ${Math.round(meta.seconds)} s run)`,
    '',
    `${si(r.memory.profiles)} profiles, ${r.segments.total} segments (${Object.entries(r.segments.byKind).map(([k, n]) => `${n} ${k}`).join(', ')}), one Pulse (all roles) on the ${machineFacts().nproc}-core machine.`,
    '',
    '| what | figure | detail |',
    '|---|---:|---|',
    `| loading ${si(r.load.profiles)} profiles through ingest | ${si(r.load.eventsPerSecond)} events/s | ${si(r.load.events)} events in ${Math.round(r.load.seconds)} s (${(r.load.seconds / 60).toFixed(1)} min), ${si(r.load.profilesPerSecond)} profiles/s; ${si(r.load.segmentChanges)} membership changes published |`,
    ...(r.copied === undefined ? [] : [
      `| copying them to ${si(r.copied.profiles)} more people (Lua, Redis only) | ${si(r.copied.profilesPerSecond)} profiles/s | ${Math.round(r.copied.seconds)} s; through ingest at the rate above these ${si(r.copied.profiles * (r.load.events / r.load.profiles))} events would take ~${duration((r.copied.profiles * (r.load.events / r.load.profiles)) / r.load.eventsPerSecond)} |`,
    ]),
    ...(r.controls === undefined ? [] : [
      `| check: people loaded through ingest vs copies of the same behaviour | ${r.controls.check.identical} of ${r.controls.check.controls} identical | every key of the profile compared (ids, message ids and evaluation time normalized) |`,
    ]),
    ...r.steady.map((s, i) => `| **evaluation throughput**, steady stream on existing profiles, ${touch(i)} | ${s === best && r.steady.length > 1 ? '**' : ''}${si(s.eventsPerSecond)} events/s${s === best && r.steady.length > 1 ? '**' : ''} | ${si(s.events)} events in ${s.seconds} s; ${si(s.evaluations.ingest)} profile evaluations, ${si(s.segmentChanges)} changes published (${(s.segmentChanges / s.events).toFixed(1)} an event); ${s.batches} batches, mean ${s.meanBatchMs} ms; load average ${s.loadAverage} |`),
    `| Redis memory per profile, used_memory delta | ${si(r.memory.usedMemoryPerProfile)} B | ${mib(r.memory.usedMemoryBefore)} → ${mib(r.memory.usedMemoryAfter)} (whole server) |`,
    `| Redis memory per profile, MEMORY USAGE × keys | ${si(r.memory.sampledPerProfile)} B | ${si(r.memory.keys)} keys of the bench namespace (${(r.memory.keys / r.memory.profiles).toFixed(1)} per profile) |`,
    ...r.estimates.map((e) => `| Estimate: ${e.label} | p50 ${ms(e.p50Ms)}, p99 ${ms(e.p99Ms)} | max ${ms(e.maxMs)} over ${e.calls} calls; ${si(e.last.estimate)} [${si(e.last.low)}, ${si(e.last.high)}] from ${e.last.sampleMatches}/${e.last.sampleSize}${e.exact === undefined ? '' : `; stored segment: ${si(e.exact.members)} members, ${e.exact.inInterval ? 'inside' : 'outside'} the interval`} |`),
    '',
    'Redis memory by key kind (right after loading; MEMORY USAGE SAMPLES 0 of up to '
      + `${r.plan.memorySamples} keys per kind × the kind's key count):`,
    '',
    '| key | keys | per profile | mean bytes | bytes per profile |',
    '|---|---:|---:|---:|---:|',
    ...r.memory.kinds.slice(0, 16).map((k) => `| \`${k.kind}\` | ${k.keys < 1000 ? k.keys : si(k.keys)} | ${(k.keys / r.memory.profiles).toFixed(2)} | ${Math.round(k.meanBytes)} | ${Math.round(k.totalBytes / r.memory.profiles)} |`),
    '',
    `- Membership after loading: ${r.membership.perProfile} segments per profile on average; largest ${r.membership.largestSegments.map((s) => `${s.id} (${si(s.members)})`).join(', ')}; ${r.membership.emptySegments} empty.`,
    `- Loading: CPU µs per event ${cpuPerEvent(r.load.cpuSeconds, r.load.events)}; load average during it ${r.load.loadAverage.length === 0 ? '—' : `${r.load.loadAverage[0]} … ${r.load.loadAverage.at(-1) ?? ''}`}.`,
    ...(best === undefined ? [] : [`- Steady stream (best attempt): CPU µs per event ${cpuPerEvent(best.cpuSeconds, best.events)}; Redis EVALSHA ${si(best.redisEvalsha.calls)} calls at ${best.redisEvalsha.usecPerCall} µs each inside Redis. `
      + 'Redis CPU and EVALSHA counts are the whole server\'s: other clients\' commands land there too (a SCAN or KEYS of another session walks the bench\'s keys as well).']),
    ...(r.copied === undefined ? [] : [`- Copies are Redis-only: an Estimate whose feature Redis does not keep reads the warehouse, which holds the events of the ${si(r.load.profiles + (r.controls?.load.profiles ?? 0))} people loaded through ingest alone, so the "new feature" row counts those only.`]),
    ...(r.profiles === undefined ? [] : [`- CPU profile (self time by package) while loading: ${r.profiles.load.byPackage.slice(0, 8).map((x) => `${x.name} ${x.selfPercent}%`).join(', ')}; steady stream: ${r.profiles.steady.byPackage.slice(0, 8).map((x) => `${x.name} ${x.selfPercent}%`).join(', ')}.`]),
    `- At the start: load average ${meta.loadAtStart}; other processes kept ${meta.otherAtStart} cores busy. Other sessions share the machine: the CPU split above shows their share as "other processes".`,
    '',
    `Raw figures: [\`${meta.jsonFile}\`](${meta.jsonFile.replace(/^bench\//, '')}).`,
  ];
  return lines.join('\n');
}

/**
 * Runs the phase end to end: its own namespace, connections and Pulse; results to
 * bench/results/<ISO>.json and the `segments` block of bench/README.md (quick and profiling runs
 * write to a temp dir only).
 */
export async function segmentsMain(o: { root: string; quick: boolean; profiling: boolean }): Promise<SegmentsBench> {
  const plan = o.quick ? SEGMENTS_QUICK : SEGMENTS_FULL;
  const startedAt = new Date();
  const loadAtStart = loadavg().map((l) => round(l, 2)).join(' ');
  const b0 = machineBusySeconds();
  await sleep(1_000);
  const otherAtStart = round(machineBusySeconds() - b0, 2);
  const t0 = performance.now();
  const namespace = `bench_${randomSuffix()}`;
  const tmp = mkdtempSync(join(tmpdir(), 'pulse-bench-segments-'));
  const pids = { 'node (bench + Pulse)': 'self' as const, 'nats-server': findServerPid('nats-server', '4222'), 'redis-server': findServerPid('redis-server', ':6379') };
  const profiler = o.profiling ? new CpuProfiler(tmp) : undefined;
  log(`\n[segments] ${si(plan.profiles)} profiles x 100 segments — namespace ${namespace}, temp dir ${tmp}; load average ${loadAtStart}`);
  const nc = await connect({ servers: NATS_URL, name: 'pulse-bench-segments' });
  const redis = new Redis(REDIS_URL, { connectionName: 'pulse-bench-segments' });
  let pulse: BenchPulse | undefined;
  let result: SegmentsBench;
  try {
    pulse = await startBenchPulse(namespace, join(tmp, 'data'));
    result = await measure(pulse, nc, redis, plan, pids, profiler, o.root);
  } finally {
    await pulse?.pulse.stop().catch((err: unknown) => log(`cleanup problem: pulse stop: ${String(err)}`));
    try {
      const removed = await cleanupNamespace(nc, redis, namespace);
      log(`cleanup: deleted ${removed.streams} streams and ${removed.keys} Redis keys of ${namespace}`);
    } catch (err) {
      log(`cleanup problem: ${String(err)}`);
    }
    await nc.close();
    redis.disconnect();
    profiler?.close();
    if (!o.profiling) rmSync(tmp, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const data = { schema: 1, phase: 'segments', startedAt: startedAt.toISOString(), seconds: round(seconds, 1), quick: o.quick, profiling: o.profiling, namespace, machine: { ...machineFacts(), loadAverageAtStart: loadAtStart, otherCoresBusyAtStart: otherAtStart }, ...result };
  if (!o.quick && !o.profiling) {
    const file = writeJson(o.root, startedAt, data);
    const jsonFile = relative(o.root, file);
    const readme = updateReadme(o.root, block(result, { startedAt, seconds, jsonFile, loadAtStart, otherAtStart }), 'segments');
    log(`\nwrote ${jsonFile} and ${relative(o.root, readme)} in ${Math.round(seconds)} s`);
  } else {
    log(`\n${block(result, { startedAt, seconds, jsonFile: `${isoBasic(startedAt)}.json (temp dir)`, loadAtStart, otherAtStart })}`);
    const file = writeJson(tmp, startedAt, data);
    log(`\n(${o.quick ? 'quick' : 'profiling'} run: results only in ${file}) in ${Math.round(seconds)} s`);
  }
  return result;
}

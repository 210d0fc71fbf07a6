import { createHash } from 'node:crypto';
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { UAParser } from 'ua-parser-js';
import type { Json, JsonObject } from '../json.ts';
import type { EventType } from './event.ts';

/** Channels an event can come through (`context.channel`). */
export const CHANNELS = ['web', 'mobile', 'email', 'social', 'ctv', 'offline', 'partner'] as const;
export type Channel = (typeof CHANNELS)[number];

/** The profile trait that holds the consent record; senders may not set it. */
export const CONSENT_TRAIT = '$consent';

/** Settings of normalization that a deployment chooses. */
export interface NormalizeOptions {
  /** ISO 3166-1 alpha-2 region for phone numbers written without an international prefix. */
  readonly phoneRegion: CountryCode;
}

/** Normalization settings when none are configured. */
export const DEFAULT_NORMALIZE_OPTIONS: NormalizeOptions = Object.freeze({ phoneRegion: 'US' });

/** True when `region` is a region libphonenumber knows (for validating configuration). */
export function isPhoneRegion(region: string): region is CountryCode {
  return isSupportedCountry(region);
}

/** The fields of a schema-valid event that normalization rewrites. */
export interface FieldsInput {
  readonly type: EventType;
  /** The track event's name. */
  readonly event: string | undefined;
  readonly traits: JsonObject;
  readonly properties: JsonObject;
  readonly context: JsonObject;
}

/** Normalized fields, or the field that makes the event invalid. */
export type FieldsResult =
  | { readonly ok: true; readonly traits: JsonObject; readonly properties: JsonObject; readonly context: JsonObject }
  | { readonly ok: false; readonly field: string; readonly reason: string };

const MAX_EXTERNAL_IDS = 32;
const ZERO_AD_ID = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]+\.[^\s@\p{Cc}]+$/u;
// Segment's Email spec events, as email service sources send them.
const EMAIL_EVENTS = new Set(['Email Bounced', 'Email Delivered', 'Email Link Clicked', 'Email Marked as Spam', 'Email Opened', 'Unsubscribed']);
const MOBILE_LIBRARY = /^(analytics-(ios|android|react-native|kotlin|swift|flutter)|rudder-(ios|android|react-native|flutter)|com\.rudderstack\.android)/i;
const WEB_LIBRARY = /^(analytics\.js|analytics-next|rudderlabs javascript sdk)$/i;

/** SHA-256 of a string as 64 lowercase hex characters. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * The form of an email address that is hashed: trimmed and lowercased; for Gmail (gmail.com and
 * its alias googlemail.com) dots and a `+tag` in the local part are removed and the domain is
 * gmail.com, since Gmail delivers all those spellings to one mailbox (UID2 normalises Gmail the
 * same way, so hashes match partners'). Undefined when it is not an address.
 */
export function normalizeEmail(raw: string): string | undefined {
  const email = raw.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) return undefined;
  const at = email.indexOf('@');
  const domain = email.slice(at + 1);
  if (domain !== 'gmail.com' && domain !== 'googlemail.com') return email;
  const local = (email.slice(0, at).split('+')[0] ?? '').replaceAll('.', '');
  return local === '' ? undefined : `${local}@gmail.com`;
}

/**
 * A phone number in E.164 (`+14155552671`), read in `region` when it has no international
 * prefix; undefined unless libphonenumber finds it a valid number.
 */
export function normalizePhone(raw: string, region: CountryCode): string | undefined {
  if (raw.length > 64) return undefined;
  const parsed = parsePhoneNumberFromString(raw, region);
  return parsed?.isValid() === true ? parsed.number : undefined;
}

/** A mobile advertising id in lowercase UUID form, or undefined when it is not a UUID. */
export function normalizeAdId(raw: string): string | undefined {
  const id = raw.trim().toLowerCase();
  return UUID.test(id) ? id : undefined;
}

interface ParsedAgent {
  readonly device: JsonObject;
  readonly os: JsonObject;
  readonly browser: JsonObject;
}

// User agents repeat heavily and parsing one costs ~0.1 ms: a small LRU keeps that off the hot path.
const agents = new Map<string, ParsedAgent>();
const AGENT_CACHE_SIZE = 2048;

/** Device, OS and browser fields ua-parser-js finds in a user agent (only those it found). */
export function parseUserAgent(ua: string): ParsedAgent {
  const hit = agents.get(ua);
  if (hit !== undefined) {
    agents.delete(ua);
    agents.set(ua, hit);
    return hit;
  }
  const r = new UAParser(ua).getResult();
  const pick = (fields: Record<string, string | undefined>): JsonObject => {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') out[k] = v;
    return out;
  };
  const parsed: ParsedAgent = {
    device: pick({ type: r.device.type, vendor: r.device.vendor, model: r.device.model }),
    os: pick({ name: r.os.name, version: r.os.version }),
    browser: pick({ name: r.browser.name, version: r.browser.version }),
  };
  if (agents.size >= AGENT_CACHE_SIZE) {
    const oldest = agents.keys().next();
    if (oldest.done !== true) agents.delete(oldest.value);
  }
  agents.set(ua, parsed);
  return parsed;
}

/**
 * The channel of an event that does not say, from what it carries (first rule that matches):
 * a Segment Email-spec track event → email; a TV device or OS → ctv; a screen call, an app,
 * an advertising id, an ios/android device or a mobile SDK → mobile; a page call, page context,
 * a browser SDK or a browser in the user agent → web. Otherwise undefined: server-side events
 * have no channel unless the producer sets one (CRM import sets `offline`, partners `partner`).
 */
export function inferChannel(type: EventType, event: string | undefined, context: JsonObject): Channel | undefined {
  const device = asObject(context['device']);
  const os = asObject(context['os']);
  const library = asString(asObject(context['library'])['name']) ?? '';
  const deviceType = (asString(device['type']) ?? '').toLowerCase();
  const osName = (asString(os['name']) ?? '').toLowerCase();
  if (type === 'track' && event !== undefined && EMAIL_EVENTS.has(event)) return 'email';
  if (deviceType === 'smarttv' || deviceType === 'tv' || osName === 'tvos' || osName === 'roku') return 'ctv';
  if (type === 'screen' || isObject(context['app']) || present(device['advertisingId'])
    || deviceType === 'ios' || deviceType === 'android' || MOBILE_LIBRARY.test(library)) return 'mobile';
  if (type === 'page' || isObject(context['page']) || WEB_LIBRARY.test(library) || asString(asObject(context['browser'])['name']) !== undefined) return 'web';
  return undefined;
}

/** Collects what a pass derives and drops. */
interface Work {
  readonly dropped: string[];
  /** Identifiers derived from PII and device ids, with the field they came from. */
  readonly derived: { type: string; id: string; from: string }[];
  readonly phoneRegion: CountryCode;
}

/**
 * Normalizes the fields of a schema-valid event; pure and idempotent (a normalized event passes
 * through unchanged). What it does, in order:
 * - removes the reserved trait `$consent` (Pulse writes it from the consent string);
 * - emails and phones (the `email` and `phone` keys of `traits`, `context.traits` and
 *   `properties`) are normalised (normalizeEmail, normalizePhone) and SHA-256-hashed; the raw value
 *   is removed. The user's own (traits except on group calls, and context.traits) become
 *   `email_sha256` / `phone_sha256` entries of `context.externalIds`; others (properties, a
 *   group's traits) are replaced in place by `email_sha256` / `phone_sha256` keys, since they may
 *   belong to someone else;
 * - `context.userAgent` fills `context.device` (type, vendor, model), `context.os` and
 *   `context.browser` (name, version) where the sender left them out;
 * - `context.device.advertisingId` on an iOS or Android device becomes an `idfa` / `gaid`
 *   identifier in lowercase UUID form, unless `adTrackingEnabled` is false, it is all zeros
 *   (tracking limited) or not a UUID: then it is removed. Given idfa/gaid externalIds in UUID
 *   form are lowercased, zeroed ones removed;
 * - `context.channel` must be one of CHANNELS (any case) and is inferred when absent (inferChannel).
 * Every value dropped is named (field and reason, never the value) in `context.pulse.dropped`.
 */
export function normalizeFields(input: FieldsInput, options: NormalizeOptions): FieldsResult {
  const context: JsonObject = { ...input.context };
  const pulse = asObject(context['pulse']);
  const previous = Array.isArray(pulse['dropped']) ? pulse['dropped'].filter((d): d is string => typeof d === 'string') : [];
  const work: Work = { dropped: [...previous], derived: [], phoneRegion: options.phoneRegion };

  const traits = scrub({ ...input.traits }, 'traits', input.type === 'group' ? 'in-place' : 'identifier', work);
  if (isObject(context['traits'])) context['traits'] = scrub({ ...context['traits'] }, 'context.traits', 'identifier', work);
  const properties = scrub({ ...input.properties }, 'properties', 'in-place', work);

  if (typeof context['userAgent'] === 'string' && context['userAgent'] !== '' && context['userAgent'].length <= 2048) {
    const agent = parseUserAgent(context['userAgent']);
    fillFields(context, 'device', agent.device, false);
    fillFields(context, 'os', agent.os, true);
    fillFields(context, 'browser', agent.browser, true);
  }

  advertisingId(context, work);

  const channel = context['channel'];
  if (channel !== undefined && channel !== null) {
    const lower = typeof channel === 'string' ? channel.toLowerCase() : '';
    if (!(CHANNELS as readonly string[]).includes(lower)) return { ok: false, field: 'context.channel', reason: `must be one of ${CHANNELS.join(', ')}` };
    context['channel'] = lower;
  } else {
    const inferred = inferChannel(input.type, input.event, context);
    if (inferred !== undefined) context['channel'] = inferred;
  }

  mergeExternalIds(context, work);

  const dropped = [...new Set(work.dropped)];
  if (dropped.length > previous.length) context['pulse'] = { ...pulse, dropped };
  return { ok: true, traits, properties, context };
}

const PII = [
  { key: 'email', type: 'email_sha256', kind: 'email address', normalize: (v: string, _w: Work) => normalizeEmail(v) },
  { key: 'phone', type: 'phone_sha256', kind: 'phone number', normalize: (v: string, w: Work) => normalizePhone(v, w.phoneRegion) },
] as const;

/** Hashes the PII keys of `obj` (a copy the caller owns) and removes their raw values. */
function scrub(obj: JsonObject, path: string, mode: 'identifier' | 'in-place', work: Work): JsonObject {
  if (CONSENT_TRAIT in obj && path !== 'properties') {
    delete obj[CONSENT_TRAIT];
    work.dropped.push(`${path}.${CONSENT_TRAIT}: reserved for Pulse`);
  }
  for (const pii of PII) {
    const raw = obj[pii.key];
    // A null trait is Segment's way to clear it: nothing personal to hash.
    if (raw === undefined || raw === null) continue;
    delete obj[pii.key];
    const normalized = typeof raw === 'string' || typeof raw === 'number' ? pii.normalize(String(raw), work) : undefined;
    if (normalized === undefined) {
      work.dropped.push(`${path}.${pii.key}: not a valid ${pii.kind}`);
      continue;
    }
    const hash = sha256Hex(normalized);
    if (mode === 'identifier') work.derived.push({ type: pii.type, id: hash, from: `${path}.${pii.key}` });
    else obj[`${pii.key}_sha256`] = hash;
  }
  return obj;
}

/** Adds parsed fields under `context[key]` where the sender gave none; `named` objects (os, browser) take the version only with their own name. */
function fillFields(context: JsonObject, key: string, parsed: JsonObject, named: boolean): void {
  if (Object.keys(parsed).length === 0) return;
  const current = context[key];
  if (current !== undefined && current !== null && !isObject(current)) return;
  const given = current ?? {};
  const out: JsonObject = { ...given };
  for (const [k, v] of Object.entries(parsed)) {
    if (present(out[k])) continue;
    // An OS or browser the sender named is not given the version of another one.
    if (named && k !== 'name' && present(given['name']) && given['name'] !== parsed['name']) continue;
    out[k] = v;
  }
  context[key] = out;
}

function advertisingId(context: JsonObject, work: Work): void {
  const device = context['device'];
  if (!isObject(device) || !present(device['advertisingId'])) return;
  const deviceType = (asString(device['type']) ?? '').toLowerCase();
  const osName = (asString(asObject(context['os'])['name']) ?? '').toLowerCase();
  const type = deviceType === 'ios' || ['ios', 'ipados', 'tvos'].includes(osName) ? 'idfa'
    : deviceType === 'android' || osName.startsWith('android') ? 'gaid' : undefined;
  if (type === undefined) return;
  const raw = device['advertisingId'];
  const id = typeof raw === 'string' ? normalizeAdId(raw) : undefined;
  const next: JsonObject = { ...device };
  delete next['advertisingId'];
  if (device['adTrackingEnabled'] === false) work.dropped.push('context.device.advertisingId: ad tracking disabled');
  else if (id === undefined) work.dropped.push('context.device.advertisingId: not a UUID');
  else if (id === ZERO_AD_ID) work.dropped.push('context.device.advertisingId: zeroed (tracking limited)');
  else {
    next['advertisingId'] = id;
    work.derived.push({ type, id, from: 'context.device.advertisingId' });
  }
  context['device'] = next;
}

/** Normalizes given device ids in `context.externalIds` and appends derived identifiers, at most 32 in all. */
function mergeExternalIds(context: JsonObject, work: Work): void {
  const given = context['externalIds'];
  // Not a list: left for validation to refuse.
  if (given !== undefined && given !== null && !Array.isArray(given)) return;
  if ((given === undefined || given === null) && work.derived.length === 0) return;
  const list: Json[] = [];
  for (const [i, x] of (given ?? []).entries()) {
    if (isObject(x) && (x['type'] === 'idfa' || x['type'] === 'gaid') && typeof x['id'] === 'string') {
      const id = normalizeAdId(x['id']);
      if (id === ZERO_AD_ID) {
        work.dropped.push(`context.externalIds.${i}: zeroed ${x['type']} (tracking limited)`);
        continue;
      }
      if (id !== undefined) {
        list.push({ ...x, id });
        continue;
      }
    }
    list.push(x);
  }
  for (const d of work.derived) {
    if (list.some((x) => isObject(x) && x['type'] === d.type && x['id'] === d.id)) continue;
    if (list.length >= MAX_EXTERNAL_IDS) {
      work.dropped.push(`${d.from}: no room for another of ${MAX_EXTERNAL_IDS} external ids`);
      continue;
    }
    list.push({ type: d.type, id: d.id });
  }
  context['externalIds'] = list;
}

function isObject(v: Json | undefined): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function asObject(v: Json | undefined): JsonObject {
  return isObject(v) ? v : {};
}

function asString(v: Json | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function present(v: Json | undefined): boolean {
  return v !== undefined && v !== null && v !== '';
}

import type { PulseEvent } from '../collection/event.ts';
import { CONSENT_TRAIT } from '../collection/normalize.ts';
import type { JsonObject } from '../json.ts';
import { decideConsent, memoDecoder, policyFor, type ConsentDecision, type ConsentRecord, type ConsentSettings } from './consent.ts';

/** The consent gate's verdict on a tenant's events. */
export interface GateResult<T> {
  /**
   * Events that may build profiles and segments; `profileEvent` is the event with the consent
   * record as the `$consent` trait when it carried a TC string (traits are last-write-wins by
   * event time, so the profile keeps the newest record).
   */
  readonly allowed: { readonly item: T; readonly profileEvent: PulseEvent }[];
  /**
   * Events that may not: `anonymous` is the row to store for aggregate analytics when the
   * policy says `denied: "anonymous"`; `record` is the decoded refusal, when there was one.
   */
  readonly denied: {
    readonly item: T;
    readonly reason: Extract<ConsentDecision, { allow: false }>['reason'];
    readonly record: ConsentRecord | undefined;
    readonly anonymous: PulseEvent | undefined;
  }[];
}

/** Pure: splits one tenant's events by the tenant's consent policy (see decideConsent). */
export function consentGate<T extends { readonly event: PulseEvent }>(tenant: string, items: readonly T[], settings: ConsentSettings): GateResult<T> {
  const policy = policyFor(settings, tenant);
  const decode = memoDecoder();
  const result: { allowed: GateResult<T>['allowed'][number][]; denied: GateResult<T>['denied'][number][] } = { allowed: [], denied: [] };
  for (const item of items) {
    const d = decideConsent(item.event.context['consent'], policy, settings.vendorId, decode);
    if (d.allow) {
      const profileEvent = d.record === undefined ? item.event : { ...item.event, traits: { ...item.event.traits, [CONSENT_TRAIT]: d.record } };
      result.allowed.push({ item, profileEvent });
    } else {
      result.denied.push({ item, reason: d.reason, record: d.record, anonymous: policy.denied === 'anonymous' ? anonymize(item.event) : undefined });
    }
  }
  return result;
}

// What of the context an anonymous row keeps: how the event came, never who sent it.
const KEPT_CONTEXT = ['channel', 'library', 'locale', 'timezone', 'os', 'browser', 'campaign'] as const;
const KEPT_DEVICE = ['type', 'vendor', 'model', 'manufacturer'] as const;
const KEPT_APP = ['name', 'version', 'build', 'namespace'] as const;
const KEPT_PAGE = ['path', 'title'] as const;

/**
 * The event without anything that identifies a person: no user or anonymous id, no traits, no
 * identifiers, no hashed PII in properties (`*_sha256` keys), and of the context only the channel,
 * library, locale, time zone, OS, browser, campaign, device type/vendor/model, app name/version
 * and page path/title (no IP, user agent, URLs, advertising ids or consent string).
 */
export function anonymize(e: PulseEvent): PulseEvent {
  const context: JsonObject = {};
  for (const k of KEPT_CONTEXT) {
    const v = e.context[k];
    if (v !== undefined) context[k] = v;
  }
  const pick = (key: string, fields: readonly string[]) => {
    const v = e.context[key];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return;
    const out: JsonObject = {};
    for (const f of fields) {
      const x = v[f];
      if (x !== undefined) out[f] = x;
    }
    if (Object.keys(out).length > 0) context[key] = out;
  };
  pick('device', KEPT_DEVICE);
  pick('app', KEPT_APP);
  pick('page', KEPT_PAGE);
  const properties: JsonObject = {};
  for (const [k, v] of Object.entries(e.properties)) if (!k.endsWith('_sha256')) properties[k] = v;
  return { ...e, userId: undefined, anonymousId: undefined, traits: {}, properties, context, identifiers: [], extra: {} };
}

import { CHANNELS } from '../collection/normalize.ts';
import { PulseError } from '../errors.ts';

/** What a cap counts: impressions of one campaign or of one creative. */
export const CAP_SCOPES = ['campaign', 'creative'] as const;
export type CapScope = (typeof CAP_SCOPES)[number];

/** The longest cap window; impressions are kept (and de-duplicated) this long. */
export const MAX_WINDOW_MS = 30 * 24 * 3600 * 1000;

/** Cap ids become Redis hash fields and appear in responses. */
export const CAP_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/**
 * Campaign, creative and impression ids become parts of Redis keys and members: printable ASCII
 * without spaces, so no value can change a key's shape.
 */
export const ACTIVATION_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** At most `limit` impressions of `target` in any sliding window of `windowMs`, per person. */
export interface FrequencyCap {
  readonly id: string;
  readonly scope: CapScope;
  readonly target: string;
  readonly limit: number;
  readonly windowMs: number;
  /** Undefined: impressions on every channel count. */
  readonly channel: string | undefined;
}

/** One counted impression of a person. */
export interface CapImpression {
  readonly impressionId: string;
  readonly channel: string;
  readonly at: number;
}

/** Where one cap stands for one person at one moment. */
export interface CapState {
  readonly cap: FrequencyCap;
  readonly count: number;
  readonly capped: boolean;
  /** When capped: the first moment the count is below the limit again (no new impressions assumed). */
  readonly freesAt: number | undefined;
}

/** Validates a cap as given by an API call; INVALID_ARGUMENT names the field. */
export function validateCap(input: { id: string; scope: string; target: string; limit: number; windowMs: number; channel: string }): FrequencyCap {
  const bad = (field: string, message: string) => new PulseError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
  if (!CAP_ID_PATTERN.test(input.id)) throw bad('id', `must match ${CAP_ID_PATTERN.source}`);
  if (!(CAP_SCOPES as readonly string[]).includes(input.scope)) throw bad('scope', `must be one of ${CAP_SCOPES.join(', ')}`);
  if (!ACTIVATION_ID_PATTERN.test(input.target)) throw bad('target', 'must be 1-200 printable ASCII characters without spaces');
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > 1_000_000) throw bad('limit', 'must be an integer from 1 to 1000000');
  if (!Number.isInteger(input.windowMs) || input.windowMs < 1000 || input.windowMs > MAX_WINDOW_MS) throw bad('window_seconds', 'must be from 1 second to 30 days');
  if (input.channel !== '' && !(CHANNELS as readonly string[]).includes(input.channel)) throw bad('channel', `must be empty (all channels) or one of ${CHANNELS.join(', ')}`);
  return { id: input.id, scope: input.scope as CapScope, target: input.target, limit: input.limit, windowMs: input.windowMs, channel: input.channel === '' ? undefined : input.channel };
}

/**
 * The state of each cap at `now`, from the person's impressions of each cap's target (keyed
 * `<scope>:<target>`). Windows slide exactly: an impression counts while `at > now - windowMs`, so
 * it stops counting at `at + windowMs`. Impressions seen twice (the same id under two of the
 * person's identifiers) count once.
 */
export function evaluateCaps(caps: readonly FrequencyCap[], impressions: ReadonlyMap<string, readonly CapImpression[]>, now: number): CapState[] {
  return caps.map((cap) => {
    const seen = new Set<string>();
    const inWindow: number[] = [];
    for (const imp of impressions.get(targetKey(cap.scope, cap.target)) ?? []) {
      if (seen.has(imp.impressionId)) continue;
      seen.add(imp.impressionId);
      if (imp.at > now - cap.windowMs && (cap.channel === undefined || imp.channel === cap.channel)) inWindow.push(imp.at);
    }
    inWindow.sort((a, b) => a - b);
    const count = inWindow.length;
    const capped = count >= cap.limit;
    // Below the limit once the (count - limit + 1) oldest have left the window.
    const freesAt = capped ? (inWindow[count - cap.limit] ?? now) + cap.windowMs : undefined;
    return { cap, count, capped, freesAt };
  });
}

/** `campaign:<id>` / `creative:<id>`: the part of the impression keys naming what was shown. */
export function targetKey(scope: CapScope, target: string): string {
  return `${scope}:${target}`;
}

/** Caps that apply to an opportunity: on the listed campaigns/creatives (none listed: all) and its channel (empty: all). */
export function selectCaps(caps: readonly FrequencyCap[], filter: { campaigns: readonly string[]; creatives: readonly string[]; channel: string }): FrequencyCap[] {
  const all = filter.campaigns.length === 0 && filter.creatives.length === 0;
  return caps.filter((c) =>
    (all || (c.scope === 'campaign' ? filter.campaigns.includes(c.target) : filter.creatives.includes(c.target)))
    && (filter.channel === '' || c.channel === undefined || c.channel === filter.channel));
}

/**
 * Whom an impression counts for: the person's profile, or, when the identifiers have none yet,
 * each identifier (`i:<type>:<id>`), so caps hold for users Pulse has not profiled.
 */
export function impressionSubjects(profileId: string | undefined, identifiers: readonly { type: string; id: string }[]): string[] {
  return profileId !== undefined ? [`p:${profileId}`] : identifiers.map((i) => `i:${i.type}:${i.id}`);
}

/** Whose impressions a lookup reads: the profile's and those counted under the identifiers themselves. */
export function lookupSubjects(profileId: string | undefined, identifiers: readonly { type: string; id: string }[]): string[] {
  return [...(profileId === undefined ? [] : [`p:${profileId}`]), ...identifiers.map((i) => `i:${i.type}:${i.id}`)];
}

import { CHANNELS } from '../collection/normalize.ts';
import { PulseError } from '../errors.ts';
import type { Timestamp__Output } from '../gen/google/protobuf/Timestamp.ts';
import type { FrequencyCap as FrequencyCapMessage } from '../gen/pulse/v1/FrequencyCap.ts';
import type { FrequencyServiceHandlers } from '../gen/pulse/v1/FrequencyService.ts';
import type { OutcomeResult } from '../gen/pulse/v1/OutcomeResult.ts';
import type { OutcomeServiceHandlers } from '../gen/pulse/v1/OutcomeService.ts';
import { requireIdentifiers } from '../identity/identifier.ts';
import { unary, type HandlerContext } from '../infra/grpc-server.ts';
import { toTimestamp } from '../infra/struct.ts';
import type { ProfileStore } from '../profiles/store.ts';
import {
  ACTIVATION_ID_PATTERN, evaluateCaps, impressionSubjects, lookupSubjects, selectCaps, targetKey, validateCap, type FrequencyCap,
} from './frequency.ts';
import type { OutcomeWriter } from './outcomes.clickhouse.ts';
import { MAX_OUTCOMES_PER_CALL, validateOutcome, type Outcome } from './outcomes.ts';
import type { FrequencyStore, ImpressionRecord } from './store.ts';

/** What the activation handlers use; `now` is injectable so tests control windows. */
export interface ActivationDeps {
  readonly profiles: Pick<ProfileStore, 'resolve'>;
  readonly frequency: FrequencyStore;
  readonly outcomes: OutcomeWriter;
  readonly now: () => number;
}

function millisOf(ts: Timestamp__Output | null): number | undefined {
  return ts === null ? undefined : Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
}

/** `OUTCOME_KIND_BID` -> `bid`; anything else stays unrecognised and is refused by validation. */
function enumName(value: string | number, prefix: string): string {
  return typeof value === 'string' && value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : String(value);
}

/** gRPC OutcomeService. */
export function outcomeHandlers(ctx: HandlerContext, deps: ActivationDeps): OutcomeServiceHandlers {
  return {
    ReportOutcomes: unary(ctx, 'ReportOutcomes', 'outcomes:write', async (req, principal) => {
      const { tenant } = principal;
      if (req.outcomes.length > MAX_OUTCOMES_PER_CALL) {
        throw new PulseError('INVALID_ARGUMENT', `outcomes: at most ${MAX_OUTCOMES_PER_CALL} per call`, { field: 'outcomes' });
      }
      const now = deps.now();
      const results: OutcomeResult[] = [];
      const valid: { index: number; outcome: Outcome }[] = [];
      req.outcomes.forEach((o, index) => {
        const r = validateOutcome({
          kind: enumName(o.kind, 'OUTCOME_KIND_'), id: o.id, auctionId: o.auctionId, campaignId: o.campaignId, creativeId: o.creativeId,
          ssp: o.ssp, placementId: o.placementId, dealId: o.dealId, identifiers: o.identifiers.map((i) => ({ type: i.type, id: i.id })),
          channel: o.channel, timestamp: millisOf(o.timestamp), price: o.price, currency: o.currency, lossReason: o.lossReason,
        }, now);
        if (r.ok) {
          valid.push({ index, outcome: r.outcome });
          results.push({ index, status: 'OUTCOME_STATUS_ACCEPTED' });
        } else {
          const field = `outcomes[${index}].${r.problem.field}`;
          results.push({ index, status: 'OUTCOME_STATUS_INVALID', field, message: `${field}: ${r.problem.message}` });
        }
      });
      const profileIds = await Promise.all(valid.map(({ outcome }) =>
        outcome.identifiers.length === 0 ? Promise.resolve(undefined) : deps.profiles.resolve(tenant, outcome.identifiers)));
      const duplicates = await deps.outcomes.write(tenant, valid.map(({ outcome }, i) => ({ outcome, profileId: profileIds[i] ?? '' })), now);
      // Every impression is (re)offered to the caps, duplicates too: counting is idempotent on the
      // impression id, so a report whose warehouse write succeeded and whose counting failed is
      // completed by its retry.
      const impressions: ImpressionRecord[] = [];
      valid.forEach(({ outcome }, i) => {
        if (outcome.kind !== 'impression' || outcome.identifiers.length === 0) return;
        impressions.push({
          impressionId: outcome.id,
          subjects: impressionSubjects(profileIds[i], outcome.identifiers),
          targets: [targetKey('campaign', outcome.campaignId), ...(outcome.creativeId === '' ? [] : [targetKey('creative', outcome.creativeId)])],
          channel: outcome.channel,
          at: outcome.timestamp,
        });
      });
      await deps.frequency.recordImpressions(tenant, impressions, now);
      valid.forEach(({ index }, i) => {
        if (duplicates[i] === true) results[index] = { index, status: 'OUTCOME_STATUS_DUPLICATE' };
      });
      return { results };
    }),
  };
}

function capMessage(c: FrequencyCap): FrequencyCapMessage {
  return {
    id: c.id, scope: c.scope === 'campaign' ? 'CAP_SCOPE_CAMPAIGN' : 'CAP_SCOPE_CREATIVE', target: c.target,
    limit: c.limit, windowSeconds: String(c.windowMs / 1000), channel: c.channel ?? '',
  };
}

function requireIds(list: readonly string[], field: string): string[] {
  list.forEach((v, i) => {
    if (!ACTIVATION_ID_PATTERN.test(v)) throw new PulseError('INVALID_ARGUMENT', `${field}[${i}]: 1-200 printable ASCII characters without spaces`, { field: `${field}[${i}]` });
  });
  return [...list];
}

/** gRPC FrequencyService. */
export function frequencyHandlers(ctx: HandlerContext, deps: ActivationDeps): FrequencyServiceHandlers {
  return {
    SetCap: unary(ctx, 'SetCap', 'admin', async (req, principal) => {
      const seconds = Number(req.windowSeconds);
      const cap = validateCap({
        id: req.id, scope: enumName(req.scope, 'CAP_SCOPE_'), target: req.target, limit: req.limit,
        windowMs: Number.isSafeInteger(seconds) && seconds <= Number.MAX_SAFE_INTEGER / 1000 ? seconds * 1000 : Number.NaN, channel: req.channel,
      });
      await deps.frequency.setCap(principal.tenant, cap);
      return capMessage(cap);
    }),
    ListCaps: unary(ctx, 'ListCaps', 'admin', async (_req, principal) => ({ caps: (await deps.frequency.listCaps(principal.tenant)).map(capMessage) })),
    DeleteCap: unary(ctx, 'DeleteCap', 'admin', async (req, principal) => ({ deleted: await deps.frequency.deleteCap(principal.tenant, req.id) })),
    CheckCaps: unary(ctx, 'CheckCaps', 'targeting:read', async (req, principal) => {
      const { tenant } = principal;
      const identifiers = requireIdentifiers(req.identifiers);
      const campaigns = requireIds(req.campaignIds, 'campaign_ids');
      const creatives = requireIds(req.creativeIds, 'creative_ids');
      if (req.channel !== '' && !(CHANNELS as readonly string[]).includes(req.channel)) {
        throw new PulseError('INVALID_ARGUMENT', `channel: must be empty or one of ${CHANNELS.join(', ')}`, { field: 'channel' });
      }
      const now = deps.now();
      const [profileId, all] = await Promise.all([deps.profiles.resolve(tenant, identifiers), deps.frequency.listCaps(tenant)]);
      const caps = selectCaps(all, { campaigns, creatives, channel: req.channel });
      const longest = Math.max(0, ...caps.map((c) => c.windowMs));
      const targets = [...new Set(caps.map((c) => targetKey(c.scope, c.target)))];
      const impressions = await deps.frequency.impressions(tenant, lookupSubjects(profileId, identifiers), targets, now - longest);
      const states = evaluateCaps(caps, impressions, now);
      const capped = (scope: FrequencyCap['scope']) => [...new Set(states.filter((s) => s.capped && s.cap.scope === scope).map((s) => s.cap.target))];
      return {
        profileId: profileId ?? '',
        caps: states.map((s) => ({
          cap: capMessage(s.cap), count: s.count, capped: s.capped, freesAt: s.freesAt === undefined ? null : toTimestamp(s.freesAt),
        })),
        cappedCampaigns: capped('campaign'),
        cappedCreatives: capped('creative'),
      };
    }),
  };
}

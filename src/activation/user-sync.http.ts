import type { FastifyPluginAsync } from 'fastify';
import type { KeyRing } from '../auth/keys.ts';
import { PulseError } from '../errors.ts';
import { identifierProblem } from '../identity/identifier.ts';
import { memoDecoder } from '../privacy/consent.ts';
import { partnerMayReceive } from '../targeting/partner-consent.ts';
import type { PushPartner } from './audience-push.ts';
import type { RedisIdSync } from './id-sync.redis.ts';

/** The cookie analytics.js (and Segment-compatible SDKs) keep the anonymous id in. */
export const ANONYMOUS_ID_COOKIE = 'ajs_anonymous_id';

/** What the user-sync endpoints need. */
export interface UserSyncDeps {
  readonly keys: KeyRing;
  readonly partners: readonly PushPartner[];
  readonly sync: RedisIdSync;
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const raw = decodeURIComponent(part.slice(eq + 1).trim());
      // analytics.js stores the id JSON-encoded (with quotes).
      return raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1) : raw;
    }
  }
  return undefined;
}

function text(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * `GET /v1/sync?writeKey=K&partner=P&uid=X` (a partner's user-sync redirect, with the
 * standard `gdpr` / `gdpr_consent` macros): remembers that partner P knows the browser's
 * anonymous id (the `ajs_anonymous_id` cookie or `anonymousId`) as X. The write key (scope
 * `events:write`) names the tenant, as for Segment's pixel API. Nothing is stored when the TC
 * string does not give the partner's vendor consent for its purposes; the answer says whether
 * the sync was kept. `GET /v1/push/status` (scope `admin`) returns each partner's delivery status.
 */
export function userSync(deps: UserSyncDeps): FastifyPluginAsync {
  const decode = memoDecoder();
  return (app) => {
    app.get('/v1/sync', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const writeKey = text(q, 'writeKey');
      if (writeKey === undefined) throw new PulseError('UNAUTHENTICATED', 'writeKey: the source write key is required', { field: 'writeKey' });
      const { tenant } = deps.keys.authorize(`Bearer ${writeKey}`, 'events:write');
      const partnerId = text(q, 'partner');
      const partner = deps.partners.find((p) => p.tenant === tenant && p.partner === partnerId);
      if (partner === undefined) throw new PulseError('INVALID_ARGUMENT', 'partner: not a configured audience-push partner of this tenant', { field: 'partner' });
      const uid = text(q, 'uid');
      if (uid === undefined || identifierProblem({ type: 'cookie', id: uid }) !== undefined) {
        throw new PulseError('INVALID_ARGUMENT', 'uid: 1-256 printable characters', { field: 'uid' });
      }
      const anonymousId = text(q, 'anonymousId') ?? cookie(req.headers.cookie, ANONYMOUS_ID_COOKIE);
      if (anonymousId === undefined || identifierProblem({ type: 'anonymous_id', id: anonymousId }) !== undefined) {
        throw new PulseError('INVALID_ARGUMENT', `anonymousId: give it or send the ${ANONYMOUS_ID_COOKIE} cookie`, { field: 'anonymousId' });
      }
      const gdpr = text(q, 'gdpr');
      const decision = partnerMayReceive({
        tcString: text(q, 'gdpr_consent'), gdprApplies: gdpr === '1' ? true : gdpr === '0' ? false : undefined,
        vendorId: partner.iabVendorId, requiredPurposes: partner.requiredPurposes, decode,
      });
      void reply.header('cache-control', 'no-store');
      if (!decision.allowed) return { synced: false, reason: decision.reason };
      await deps.sync.link(tenant, partner.partner, { type: 'anonymous_id', id: anonymousId }, uid);
      return { synced: true };
    });

    app.get('/v1/push/status', async (req) => {
      const { tenant } = deps.keys.authorize(req.headers.authorization, 'admin');
      const partners = deps.partners.filter((p) => p.tenant === tenant).map((p) => p.partner);
      return { partners: await deps.sync.status(tenant, partners) };
    });
    return Promise.resolve();
  };
}

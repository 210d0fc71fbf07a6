import type { Identifier } from '../identity/identifier.ts';
import type { JsonObject } from '../json.ts';

export { SOURCE_PATTERN } from '../auth/keys.ts';

/**
 * Pure: the identify event (Segment-spec JSON) that carries an UpdateProfile call, so the update
 * takes the processor's path: the same Lua script, trait policies, history and segments. The
 * first user_id and anonymous_id become userId/anonymousId, every other identifier an external id;
 * provenance rides in `context.source` and `context.keyId`.
 */
export function updateEvent(identifiers: readonly Identifier[], traits: JsonObject, source: string, keyId: string, messageId: string, at: number): JsonObject {
  const userId = identifiers.find((i) => i.type === 'user_id');
  const anonymousId = identifiers.find((i) => i.type === 'anonymous_id');
  const externalIds = identifiers.filter((i) => i !== userId && i !== anonymousId).map((i) => ({ type: i.type, id: i.id }));
  const event: JsonObject = {
    type: 'identify', messageId, timestamp: new Date(at).toISOString(), traits,
    context: { source, keyId, ...(externalIds.length > 0 ? { externalIds } : {}) },
  };
  if (userId !== undefined) event['userId'] = userId.id;
  if (anonymousId !== undefined) event['anonymousId'] = anonymousId.id;
  return event;
}

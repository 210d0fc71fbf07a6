/*
 * The unmerge scenario both layouts' unmerge tests replay (test/integration/unmerge.test.ts and
 * unmerge-v2.test.ts): Alice and Bob fused by a household cookie, and the segments that tell them apart.
 */

/** Segment rules (text form) by id. */
export const UNMERGE_SEGMENTS: Readonly<Record<string, string>> = {
  buyer: 'count(Purchase) >= 2',
  big_spender: 'sum(Purchase.revenue) in last 30 days >= 100',
  oslo: 'city = "Oslo"',
  searcher: 'count(Search) in last 7 days >= 1',
};

/** Alice's and Bob's events; `at(minutes)` gives each event's time. Bob's third event carries Alice's household cookie. */
export function aliceAndBob(at: (minutes: number) => string) {
  const household = { externalIds: [{ type: 'cookie', id: 'household-1' }] };
  return {
    household,
    ALICE: [
      { type: 'identify', messageId: 'a1', userId: 'alice', anonymousId: 'a-dev', traits: { name: 'Alice', interests: ['golf'] }, timestamp: at(0) },
      { type: 'track', messageId: 'a2', userId: 'alice', event: 'Purchase', properties: { revenue: 120 }, timestamp: at(10) },
      { type: 'page', messageId: 'a3', anonymousId: 'a-dev', name: 'Home', context: household, timestamp: at(20) },
      { type: 'track', messageId: 'a4', userId: 'alice', event: 'Search', timestamp: at(70) },
    ],
    BOB: [
      { type: 'identify', messageId: 'b1', anonymousId: 'b-dev', traits: { name: 'Bob', city: 'Oslo', interests: ['chess'] }, timestamp: at(30) },
      { type: 'track', messageId: 'b2', anonymousId: 'b-dev', event: 'Purchase', properties: { revenue: 30 }, timestamp: at(40) },
      // The household cookie fuses Bob into Alice's (older) profile.
      { type: 'track', messageId: 'b3', anonymousId: 'b-dev', event: 'Search', context: household, timestamp: at(50) },
      { type: 'track', messageId: 'b4', anonymousId: 'b-dev', event: 'Purchase', properties: { revenue: 25 }, timestamp: at(60) },
    ],
  };
}

import { parseProfilePolicies, type ProfilePolicies } from '../../src/profiles/policy.ts';

/**
 * A tenant policy with every conflict policy and both computed traits, for tests that compare the
 * v1 and v2 profile stores on the same events.
 */
export function everyPolicy(): ProfilePolicies {
  const parsed = parseProfilePolicies(JSON.stringify({
    '*': {
      signup: { policy: 'first' },
      name: { policy: 'priority', priority: ['crm', 'web'] },
      score: { policy: 'max' },
      price: { policy: 'min' },
      tags: { policy: 'add_to_set' },
      visits: { policy: 'increment' },
      computed: { spend: { sum: 'amount', event: 'Bought' }, fav: { mostFrequent: 'color' } },
    },
  }));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.policies;
}

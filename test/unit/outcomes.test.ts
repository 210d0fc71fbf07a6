import t from 'tap';
import { LOSS_REASONS, outcomeKey, validateOutcome, type OutcomeInput } from '../../src/activation/outcomes.ts';

const NOW = Date.parse('2026-11-20T12:00:00.000Z');
const base: OutcomeInput = {
  kind: 'win', id: 'bid-1', auctionId: 'auc-1', campaignId: 'camp-1', creativeId: 'cr-1', ssp: 'xchg', placementId: 'pl-1', dealId: '',
  identifiers: [], channel: 'web', timestamp: NOW - 1000, price: 1.25, currency: '', lossReason: 0,
};
const problem = (o: Partial<OutcomeInput>) => {
  const r = validateOutcome({ ...base, ...o }, NOW);
  return r.ok ? undefined : r.problem.field;
};

void t.test('valid outcomes of every kind', async (t) => {
  const win = validateOutcome(base, NOW);
  t.ok(win.ok);
  if (win.ok) t.equal(win.outcome.currency, 'USD', 'OpenRTB default currency');
  t.equal(problem({ kind: 'bid', price: 2 }), undefined);
  t.equal(problem({ kind: 'loss', price: 0, lossReason: 102 }), undefined);
  t.equal(problem({ kind: 'loss', price: 0, lossReason: 215 }), undefined, 'a 2.6 addition');
  t.equal(problem({ kind: 'loss', price: 0, lossReason: 501 }), undefined, 'exchange-specific');
  t.equal(problem({ kind: 'impression', price: 0, auctionId: '', identifiers: [{ type: 'gaid', id: 'g-1' }] }), undefined);
  t.equal(problem({ kind: 'click', price: 0, channel: '' }), undefined);
});

void t.test('loss reason codes are checked against the OpenRTB 2.6 list', async (t) => {
  t.same([...LOSS_REASONS.keys()], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 101, 102, 103, 104, ...Array.from({ length: 16 }, (_, i) => 200 + i)]);
  for (const code of [0, 11, 99, 105, 216, 300, 499, -1]) t.equal(problem({ kind: 'loss', price: 0, lossReason: code }), 'loss_reason', `${code} refused`);
  t.equal(problem({ kind: 'win', lossReason: 102 }), 'loss_reason', 'only losses carry a reason');
});

void t.test('each invalid field is named', async (t) => {
  const cases: [Partial<OutcomeInput>, string][] = [
    [{ kind: 'unspecified' }, 'kind'], [{ id: '' }, 'id'], [{ id: 'with space' }, 'id'], [{ auctionId: '' }, 'auction_id'],
    [{ campaignId: '' }, 'campaign_id'], [{ dealId: 'd\n1' }, 'deal_id'], [{ identifiers: [{ type: 'shoe', id: '1' }] }, 'identifiers[0]'],
    [{ kind: 'impression', price: 0, channel: '' }, 'channel'], [{ channel: 'radio' }, 'channel'], [{ timestamp: undefined }, 'timestamp'],
    [{ timestamp: NOW + 6 * 60_000 }, 'timestamp'], [{ price: -1 }, 'price'], [{ price: Number.NaN }, 'price'], [{ kind: 'bid', price: 0 }, 'price'],
    [{ kind: 'click', price: 1 }, 'price'], [{ currency: 'usd' }, 'currency'],
  ];
  for (const [patch, field] of cases) t.equal(problem(patch), field, `${JSON.stringify(patch)} -> ${field}`);
});

void t.test('ids are unique per kind', async (t) => {
  t.not(outcomeKey({ kind: 'bid', id: 'x' }), outcomeKey({ kind: 'win', id: 'x' }));
});

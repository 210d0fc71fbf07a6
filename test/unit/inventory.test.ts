import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import {
  rankDeals, rankSegments, sspRow, validateInventory, validatePeriod, type InventoryInput, type Placement,
} from '../../src/inventory/model.ts';

const site: InventoryInput = {
  id: 'news-site', kind: 'site', domain: 'News.Example.com', bundle: '', name: 'News',
  placements: [{
    id: 'pl-top', floor: 1.5, currency: '', deals: [{ id: 'deal-a', floor: 3 }],
    formats: [{ format: 'banner', banner: { w: 300, h: 250 } }, { format: 'banner', banner: { w: 300, h: 250 } }, { format: 'video', video: true }],
  }],
};
const fieldOf = (input: InventoryInput): string | undefined => {
  try {
    validateInventory(input);
    return undefined;
  } catch (err) {
    if (!(err instanceof PulseError) || err.code !== 'INVALID_ARGUMENT') throw err;
    return err.field;
  }
};
const withPlacement = (p: Partial<InventoryInput['placements'][number]>): InventoryInput => ({ ...site, placements: [{ ...site.placements[0]!, ...p }] });

void t.test('valid inventory is normalised', async (t) => {
  const inv = validateInventory(site);
  t.equal(inv.domain, 'news.example.com', 'domain lower-cased');
  t.equal(inv.placements[0]?.currency, 'USD', 'OpenRTB default currency');
  t.same(inv.placements[0]?.formats, [{ type: 'banner', w: 300, h: 250 }, { type: 'video' }], 'duplicate sizes collapse');
  const app = validateInventory({ ...site, id: 'game', kind: 'app', domain: '', bundle: 'com.example.game' });
  t.equal(app.kind, 'app');
  t.equal(app.bundle, 'com.example.game');
  t.equal(fieldOf({ ...site, kind: 'app', domain: '', bundle: '1234567890' }), undefined, 'numeric App Store id');
});

void t.test('invalid inventory names the field', async (t) => {
  t.equal(fieldOf({ ...site, id: '' }), 'id');
  t.equal(fieldOf({ ...site, kind: 'ctv' }), 'kind');
  t.equal(fieldOf({ ...site, domain: '' }), 'domain', 'sites need a domain');
  t.equal(fieldOf({ ...site, domain: 'not a domain' }), 'domain');
  t.equal(fieldOf({ ...site, bundle: 'com.x' }), 'bundle', 'bundles are for apps');
  t.equal(fieldOf({ ...site, kind: 'app', domain: '', bundle: '' }), 'bundle', 'apps need a bundle');
  t.equal(fieldOf({ ...site, placements: [] }), 'placements');
  t.equal(fieldOf({ ...site, placements: [site.placements[0]!, site.placements[0]!] }), 'placements[1].id', 'duplicate placement');
  t.equal(fieldOf(withPlacement({ id: 'has space' })), 'placements[0].id');
  t.equal(fieldOf(withPlacement({ formats: [] })), 'placements[0].formats');
  t.equal(fieldOf(withPlacement({ formats: [{ format: 'banner', banner: { w: 0, h: 250 } }] })), 'placements[0].formats[0].banner.w');
  t.equal(fieldOf(withPlacement({ formats: [{ format: 'banner', banner: { w: 300, h: 2.5 } }] })), 'placements[0].formats[0].banner.h');
  t.equal(fieldOf(withPlacement({ formats: [{}] })), 'placements[0].formats[0]', 'a format must be chosen');
  t.equal(fieldOf(withPlacement({ floor: -1 })), 'placements[0].floor');
  t.equal(fieldOf(withPlacement({ floor: Number.NaN })), 'placements[0].floor');
  t.equal(fieldOf(withPlacement({ floor: 1_000_000 })), 'placements[0].floor', 'micros are a unit mistake');
  t.equal(fieldOf(withPlacement({ currency: 'usd' })), 'placements[0].currency');
  t.equal(fieldOf(withPlacement({ deals: [{ id: 'd', floor: 1 }, { id: 'd', floor: 2 }] })), 'placements[0].deals[1].id');
  t.equal(fieldOf(withPlacement({ deals: [{ id: 'd', floor: -2 }] })), 'placements[0].deals[0].floor');
});

const placement: Placement = {
  id: 'pl', formats: [{ type: 'video' }], floor: 2, currency: 'USD',
  deals: [{ id: 'deal-low', floor: 5 }, { id: 'deal-hi', floor: 3 }, { id: 'deal-new', floor: 4 }, { id: 'deal-under', floor: 10 }],
};

void t.test('segments rank by reach × eCPM with observed, placement and floor values', async (t) => {
  const segments = [
    { id: 'big-cheap', name: 'Big', reach: 1000, won: { wins: 2, priceSum: 2 } },     // eCPM 1 -> score 1
    { id: 'small-rich', name: 'Small', reach: 100, won: { wins: 1, priceSum: 20 } },  // eCPM 20 -> score 2
    { id: 'unseen', name: 'Unseen', reach: 500, won: { wins: 0, priceSum: 0 } },       // placement eCPM 4 -> score 2
    { id: 'empty', name: 'Empty', reach: 0, won: { wins: 0, priceSum: 0 } },
  ];
  const ranked = rankSegments(placement, segments, { wins: 5, priceSum: 20 }, 10);
  t.same(ranked.map((s) => s.segmentId), ['unseen', 'small-rich', 'big-cheap', 'empty'], 'equal scores: larger reach first');
  t.same(ranked.map((s) => [s.ecpm, s.valueSource, s.score]), [[4, 'placement', 2], [20, 'observed', 2], [1, 'observed', 1], [4, 'placement', 0]]);
  const cold = rankSegments(placement, segments.slice(2, 3), { wins: 0, priceSum: 0 }, 10);
  t.same(cold.map((s) => [s.ecpm, s.valueSource, s.score]), [[2, 'floor', 1]], 'no win at all: the floor');
  t.equal(rankSegments(placement, segments, { wins: 5, priceSum: 20 }, 2).length, 2, 'limit');
});

void t.test('deals clearing their floor rank first, then by eCPM', async (t) => {
  const stats = new Map([
    ['deal-low', { wins: 2, priceSum: 12, profiles: 2 }],   // 6 >= 5
    ['deal-hi', { wins: 1, priceSum: 9, profiles: 1 }],     // 9 >= 3
    ['deal-under', { wins: 4, priceSum: 32, profiles: 3 }], // 8 < 10
  ]);
  const ranked = rankDeals(placement, stats);
  t.same(ranked.map((d) => [d.dealId, d.ecpm, d.valueSource, d.aboveFloor, d.wins, d.reach]), [
    ['deal-hi', 9, 'observed', true, 1, 1],
    ['deal-low', 6, 'observed', true, 2, 2],
    ['deal-new', 4, 'floor', true, 0, 0],
    ['deal-under', 8, 'observed', false, 4, 3],
  ]);
});

void t.test('report rates and periods', async (t) => {
  const row = sspRow({ ssp: 'x', placementId: 'p', day: '2026-11-20', requests: 4, bids: 4, wins: 1, impressions: 1, winPriceSum: 2.5 });
  t.same([row.fillRate, row.winRate, row.ecpm, row.revenue], [0.25, 0.25, 2.5, 0.0025]);
  const none = sspRow({ ssp: 'x', placementId: 'p', day: '2026-11-20', requests: 0, bids: 0, wins: 0, impressions: 3, winPriceSum: 0 });
  t.same([none.fillRate, none.winRate, none.ecpm], [0, 0, 0], 'no NaN');
  t.same(validatePeriod(1, 2), { from: 1, to: 2 });
  const periodField = (from: number | undefined, to: number) => {
    try {
      validatePeriod(from, to);
      return undefined;
    } catch (err) {
      return err instanceof PulseError ? [err.code, err.field] : err;
    }
  };
  t.same(periodField(undefined, 2), ['INVALID_ARGUMENT', 'from']);
  t.same(periodField(5, 5), ['INVALID_ARGUMENT', 'to'], 'to is exclusive');
  t.same(periodField(0, 400 * 86_400_000), ['INVALID_ARGUMENT', 'to'], 'at most 366 days');
});

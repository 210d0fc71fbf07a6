import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { Credits, batches } from '../../processors/batching.ts';

/** An async iterator the test feeds by hand; `pulls` counts calls to next(). */
class Feed<T> implements AsyncIterator<T> {
  pulls = 0;
  readonly #queued: T[] = [];
  readonly #waiting: ((r: IteratorResult<T>) => void)[] = [];
  #ended = false;

  push(...items: T[]): void {
    for (const value of items) {
      const w = this.#waiting.shift();
      if (w) w({ done: false, value });
      else this.#queued.push(value);
    }
  }

  end(): void {
    this.#ended = true;
    for (const w of this.#waiting.splice(0)) w({ done: true, value: undefined });
  }

  next(): Promise<IteratorResult<T>> {
    this.pulls++;
    if (this.#queued.length > 0) return Promise.resolve({ done: false, value: this.#queued.shift() as T });
    if (this.#ended) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

/** Tracks whether a promise has settled, without awaiting it. */
function watch<T>(p: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let done = false;
  const promise = p.finally(() => { done = true; });
  return { settled: () => done, promise };
}

void t.test('a full batch is emitted at max without waiting', async (t) => {
  const feed = new Feed<number>();
  feed.push(0, 1, 2, 3, 4);
  const gen = batches(feed, 2, 60_000, new Credits(10));
  const started = Date.now();
  t.same((await gen.next()).value, [0, 1]);
  t.same((await gen.next()).value, [2, 3]);
  t.ok(Date.now() - started < 5_000, 'did not wait for waitMs');
  t.equal(feed.pulls, 4, 'no read-ahead after a full batch');
  const last = gen.next();
  feed.end();
  t.same((await last).value, [4], 'the end of the source flushes the partial batch');
  t.same(await gen.next(), { done: true, value: undefined });
});

void t.test('a partial batch is emitted after waitMs, and the pending read is not lost', async (t) => {
  const feed = new Feed<string>();
  feed.push('a', 'b');
  const gen = batches(feed, 10, 50, new Credits(10));
  const started = Date.now();
  t.same((await gen.next()).value, ['a', 'b']);
  const took = Date.now() - started;
  t.ok(took >= 45, `waited for waitMs (${took} ms)`);
  t.ok(took < 5_000, 'but not much longer');

  const second = gen.next();
  feed.push('c', 'd', 'e');
  t.same((await second).value, ['c', 'd', 'e'], 'the read pending at the timeout starts the next batch');
  const end = gen.next();
  feed.end();
  t.same(await end, { done: true, value: undefined });
});

void t.test('the clock starts at the first item of a batch', async (t) => {
  const feed = new Feed<number>();
  const gen = batches(feed, 10, 50, new Credits(10));
  const first = watch(gen.next());
  await sleep(120);
  t.notOk(first.settled(), 'nothing is emitted while the source is idle');
  feed.push(1);
  await sleep(10);
  feed.push(2);
  t.same((await first.promise).value, [1, 2]);
  feed.end();
  t.same(await gen.next(), { done: true, value: undefined });
});

void t.test('the end of the source flushes the last batch at once', async (t) => {
  const feed = new Feed<number>();
  feed.push(1, 2, 3);
  feed.end();
  const gen = batches(feed, 10, 60_000, new Credits(1));
  const started = Date.now();
  t.same((await gen.next()).value, [1, 2, 3]);
  t.ok(Date.now() - started < 5_000, 'did not wait for waitMs');
  t.same(await gen.next(), { done: true, value: undefined }, 'done without needing a credit');
});

void t.test('an empty source yields no batch', async (t) => {
  const feed = new Feed<number>();
  feed.end();
  t.same(await batches(feed, 10, 10, new Credits(1)).next(), { done: true, value: undefined });
});

void t.test('with one credit the next batch is not read until release()', async (t) => {
  const feed = new Feed<number>();
  feed.push(...Array.from({ length: 10 }, (_, i) => i));
  const credits = new Credits(1);
  const gen = batches(feed, 3, 60_000, credits);

  t.same((await gen.next()).value, [0, 1, 2]);
  t.equal(feed.pulls, 3);

  const second = watch(gen.next());
  await sleep(100);
  t.notOk(second.settled(), 'no batch without a credit');
  t.equal(feed.pulls, 3, 'nothing more was pulled from the source');

  credits.release();
  t.same((await second.promise).value, [3, 4, 5]);
  t.equal(feed.pulls, 6);

  const third = watch(gen.next());
  await sleep(50);
  t.notOk(third.settled());
  t.equal(feed.pulls, 6, 'held back again');
  credits.release();
  t.same((await third.promise).value, [6, 7, 8]);
  t.equal(feed.pulls, 9);
});

void t.test('Credits is a counting semaphore', async (t) => {
  const credits = new Credits(2);
  const a = watch(credits.acquire());
  const b = watch(credits.acquire());
  const c = watch(credits.acquire());
  const d = watch(credits.acquire());
  await sleep(0);
  t.ok(a.settled() && b.settled(), 'two credits available at once');
  t.notOk(c.settled() || d.settled(), 'the third waits');
  credits.release();
  await sleep(0);
  t.ok(c.settled(), 'release wakes the first waiter');
  t.notOk(d.settled(), 'only one');
  credits.release();
  await d.promise;
  credits.release();
  credits.release();
  const e = watch(credits.acquire());
  const f = watch(credits.acquire());
  const g = watch(credits.acquire());
  await sleep(0);
  t.ok(e.settled() && f.settled(), 'releases without waiters are banked');
  t.notOk(g.settled());
  credits.release();
  await g.promise;
});

void t.test('a batch also ends at its weight limit (message bytes), and always takes one item', async (t) => {
  const feed = new Feed<number>();
  feed.push(3, 4, 5, 100, 1);
  const gen = batches(feed, 1_000, 60_000, new Credits(10), (n) => n, 8);
  t.same((await gen.next()).value, [3, 4, 5], 'stops once 8 is reached (3 + 4 + 5 = 12)');
  t.same((await gen.next()).value, [100], 'one heavy item alone');
  const last = gen.next();
  feed.end();
  t.same((await last).value, [1]);
});

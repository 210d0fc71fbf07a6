/**
 * Groups items from an async iterator into batches of at most `max` items and `maxWeight` total
 * weight (a batch always takes at least one item), waiting at most `waitMs` after the first item
 * of a batch. A new batch is read only after `credits.acquire()`, so a slow sink holds the source
 * back instead of queueing batches in memory.
 */
export async function* batches<T>(
  source: AsyncIterator<T>, max: number, waitMs: number, credits: Credits,
  weight: (item: T) => number = () => 0, maxWeight = Number.POSITIVE_INFINITY,
): AsyncGenerator<T[]> {
  let pending: Promise<IteratorResult<T>> | undefined;
  for (;;) {
    await credits.acquire();
    const first = await (pending ?? source.next());
    pending = undefined;
    if (first.done === true) return;
    const batch: T[] = [first.value];
    let total = weight(first.value);
    const deadline = Date.now() + waitMs;
    while (batch.length < max && total < maxWeight) {
      pending ??= source.next();
      const left = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(resolve, left, 'timeout'); });
      const next = await Promise.race([pending, timeout]);
      clearTimeout(timer);
      if (next === 'timeout') break;
      pending = undefined;
      if (next.done === true) {
        yield batch;
        return;
      }
      batch.push(next.value);
      total += weight(next.value);
    }
    yield batch;
  }
}

/** A counting semaphore: how many batches may be in flight at once. */
export class Credits {
  #available: number;
  readonly #waiters: (() => void)[] = [];

  constructor(count: number) {
    this.#available = count;
  }

  acquire(): Promise<void> {
    if (this.#available > 0) {
      this.#available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#available++;
  }
}

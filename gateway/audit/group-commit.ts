/** submitters settled per turn of the event loop after a commit */
const SETTLE_SLICE = 16;

type Submission<T> = { items: T[]; resolve: () => void; reject: (e: unknown) => void };

/**
 * Group commit: one in-process writer; whatever is queued while a commit runs goes into the next
 * one. Each submitter's promise settles only after the commit that holds its items, so a caller
 * never proceeds (never answers its HTTP request) before its audit record is durable.
 *
 * The next commit is sent before the submitters of the last one are told, and they are told a
 * slice at a time, a turn of the event loop each: what they go on to do (answer their request,
 * audit the next) would otherwise run first, all of it, while the database waits for the next
 * commit, and each of the driver's callbacks on the way (SQLite's: prepared, then done) would
 * wait behind all of it again.
 */
export class GroupCommitWriter<T> {
  private queue: Array<Submission<T>> = [];
  private running: Promise<void> | undefined;
  /** settlements still telling submitters */
  private settling = new Set<Promise<void>>();

  constructor(
    private readonly commit: (items: T[]) => Promise<void>,
    /** items per commit at most (a single submission larger than this still goes in whole) */
    private readonly maxBatch = 5000,
  ) {}

  submit(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.running) this.running = this.drain();
    });
  }

  /** the queued submissions' items, in the order they will be committed (not the one in flight) */
  forEachQueued(fn: (items: T[]) => void): void {
    for (const q of this.queue) fn(q.items);
  }

  /** resolves when nothing is queued or being committed, and every submitter has been told */
  async idle(): Promise<void> {
    while (this.running || this.settling.size) {
      if (this.running) await this.running;
      else await Promise.all(this.settling);
    }
  }

  private settle(batch: Array<Submission<T>>, error?: { e: unknown }): void {
    const done = new Promise<void>((resolve) => {
      let i = 0;
      const slice = () => {
        for (const end = Math.min(i + SETTLE_SLICE, batch.length); i < end; i++) {
          if (error) batch[i].reject(error.e);
          else batch[i].resolve();
        }
        if (i < batch.length) setImmediate(slice);
        else resolve();
      };
      setImmediate(slice);
    });
    this.settling.add(done);
    void done.then(() => this.settling.delete(done));
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch: typeof this.queue = [];
      let n = 0;
      while (this.queue.length && (n === 0 || n + this.queue[0].items.length <= this.maxBatch)) {
        const next = this.queue.shift()!;
        batch.push(next);
        n += next.items.length;
      }
      const error = await this.commit(batch.length === 1 ? batch[0].items : batch.flatMap((b) => b.items)).then(
        () => undefined,
        (e: unknown) => ({ e }),
      );
      // the items are stored (or refused): only the submitters are left to tell
      for (const b of batch) b.items = [];
      this.settle(batch, error);
    }
    this.running = undefined;
  }
}

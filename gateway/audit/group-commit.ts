/**
 * Group commit: one in-process writer; whatever is queued while a commit runs goes into the next
 * one. Each submitter's promise settles only after the commit that holds its items, so a caller
 * never proceeds (never answers its HTTP request) before its audit record is durable.
 */
export class GroupCommitWriter<T> {
  private queue: Array<{ items: T[]; resolve: () => void; reject: (e: unknown) => void }> = [];
  private running: Promise<void> | undefined;

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

  /** resolves when nothing is queued or being committed */
  async idle(): Promise<void> {
    while (this.running) await this.running;
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
      try {
        await this.commit(batch.length === 1 ? batch[0].items : batch.flatMap((b) => b.items));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.running = undefined;
  }
}

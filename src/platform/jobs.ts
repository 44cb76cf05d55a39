// A tiny in-process worker: runs each job until it reports no work, then sleeps until kicked or
// until the poll interval passes (other instances may have queued work).
export type Job = () => Promise<number>;

export class Worker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private halting = false;

  constructor(private readonly jobs: Job[], private readonly pollMs: number, private readonly onError: (e: unknown) => void) {}

  start(): void {
    this.stopped = false;
    this.halting = false;
    this.kick();
  }

  /** Ask for a run soon (after a request queued work). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) { this.again = true; return; }
    clearTimeout(this.timer);
    this.running = this.runOnce().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) { this.again = false; this.kick(); return; }
      this.timer = setTimeout(() => this.kick(), this.pollMs);
      this.timer.unref();
    });
  }

  /** Runs every job until none has work left: tests and shutdown use it. */
  async drain(): Promise<void> {
    while (this.running) await this.running;
    await this.runOnce();
  }

  /** True once stop() was called: a job finishes the item in hand and hands the rest back. */
  get stopping(): boolean {
    return this.halting;
  }

  /** Stops polling; waits for the send in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halting = true;
    clearTimeout(this.timer);
    while (this.running) await this.running;
  }

  private async runOnce(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      let work = 0;
      for (const job of this.jobs) {
        if (this.halting) return; // shutting down: the job in hand has finished its item
        try {
          work += await job();
        } catch (e) {
          this.onError(e);
        }
      }
      if (work === 0) return;
    }
  }
}

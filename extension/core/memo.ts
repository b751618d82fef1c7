// A job's result, computed once and shared by everyone who asks while it is kept.

/** A job's promise, kept until it fails (asking again then starts it again). */
export class Memo<T> {
  private job: Promise<T> | undefined;

  get(start: () => Promise<T>): Promise<T> {
    if (!this.job) {
      const job = start();
      this.job = job;
      job.catch(() => {
        if (this.job === job) this.job = undefined;
      });
    }
    return this.job;
  }

  clear(): void {
    this.job = undefined;
  }
}

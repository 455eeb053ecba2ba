/**
 * One write lock per wiki inside this process (DESIGN §4). Every change to a repository — our
 * page writes, Otterwiki saves, git pushes — runs inside `run`, so commits never race and the
 * database is updated in the same critical section. `close` stops new work and waits for
 * the work in flight, which is what a graceful shutdown needs.
 */
import { PageError } from "./page-error.ts";

export class WriteGate {
  private readonly tails = new Map<number, Promise<unknown>>();
  private inFlight = 0;
  private closed = false;
  private idle: (() => void) | null = null;

  get activeCount(): number {
    return this.inFlight;
  }

  async run<T>(wikiId: number, task: () => Promise<T>): Promise<T> {
    if (this.closed)
      throw new PageError("shutting_down", "the server is shutting down; retry shortly");
    this.inFlight += 1;
    const previous = this.tails.get(wikiId) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(wikiId, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(wikiId) === tail) this.tails.delete(wikiId);
      this.inFlight -= 1;
      if (this.inFlight === 0) this.idle?.();
    }
  }

  /** Refuses new work and resolves once everything already admitted has finished. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }
}

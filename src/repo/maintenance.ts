/**
 * Packs a wiki's loose objects now and then. Repositories run with gc.auto=0 so git never
 * collects on its own (a detached gc would race the write gate, and reads during a repack can
 * fail: git-smart-http.md §4); instead the write gate calls `afterChange`, and every `every`-th
 * change runs `git gc --auto` in the foreground, which does nothing until `looseObjects` loose
 * objects have piled up. Failures never fail the write that triggered them; they are counted
 * and shown in /health.
 */
import { runGit } from "./git.ts";

export interface MaintenanceOptions {
  /** Check after this many changes to one wiki. */
  every: number;
  /** git's gc.auto: loose objects (estimated) before it packs. */
  looseObjects: number;
}

export const DEFAULT_MAINTENANCE: MaintenanceOptions = { every: 100, looseObjects: 2000 };

export interface MaintenanceStatus {
  checks: number;
  failures: number;
  lastError: string | null;
}

export class RepositoryMaintenance {
  private readonly changes = new Map<number, number>();
  private readonly state: MaintenanceStatus = { checks: 0, failures: 0, lastError: null };

  constructor(private readonly options: MaintenanceOptions = DEFAULT_MAINTENANCE) {}

  status(): MaintenanceStatus {
    return { ...this.state };
  }

  /** Call under the wiki's write gate after each change. */
  async afterChange(wikiId: number, repo: string): Promise<void> {
    const count = (this.changes.get(wikiId) ?? 0) + 1;
    if (count < this.options.every) {
      this.changes.set(wikiId, count);
      return;
    }
    this.changes.set(wikiId, 0);
    this.state.checks += 1;
    try {
      await runGit(repo, [
        "-c",
        `gc.auto=${this.options.looseObjects}`,
        // Detached, gc would keep running after the gate opens.
        "-c",
        "gc.autoDetach=false",
        "gc",
        "--auto",
        "--quiet",
      ]);
    } catch (error) {
      this.state.failures += 1;
      this.state.lastError = error instanceof Error ? error.message : String(error);
    }
  }
}

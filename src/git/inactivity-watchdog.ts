/**
 * Calls `onExpire` once when nothing has happened for `timeoutMs`. Git transfers are limited by
 * inactivity, never by total time: a fixed deadline kills big clones on slow links (Gitea #20680),
 * while git itself sends keep-alives every 5 s when it has nothing else to say
 * (`uploadpack.keepAlive`, `receive.keepAlive`).
 */
export class InactivityWatchdog {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  expired = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly onExpire: () => void,
  ) {}

  /** Starts the clock, or restarts it after some activity. */
  touch(): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.expired = true;
      this.stop();
      this.onExpire();
    }, this.timeoutMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** A token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    if (!(rate > 0) || !(burst >= 1))
      throw new Error(`invalid token bucket rate ${rate} burst ${burst}`);
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    // A clock that steps back adds nothing (wall clocks do).
    const elapsed = Math.max(0, t - this.last);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.rate);
    this.last = t;
  }

  /**
   * Takes one token now, possibly going into debt, and returns how many ms the
   * caller must wait before acting (client-go's rate.Limiter Reserve().Delay()).
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.rate) * 1000;
  }

  /** Takes one token when one is saved up; never goes into debt. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Waits until a token is available and takes it. */
  async take(signal?: AbortSignal): Promise<void> {
    const delay = this.reserve();
    if (delay <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, delay);
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }
}

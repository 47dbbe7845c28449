/** The time the system acts at. Real: the wall clock. Simulated: set by the pipeline (backtests, demo). */
export interface Clock {
  now(): Date;
}

export const wallClock: Clock = { now: () => new Date() };

export class SimulatedClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(instant: Date): void {
    this.current = new Date(instant.getTime());
  }
}

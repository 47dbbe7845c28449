/** The time the system acts at. Simulated: set by the pipeline (backtests, demo); a wall clock comes with live trading. */
export interface Clock {
  now(): Date;
}

export class SimulatedClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(instant: Date): void {
    this.current = new Date(instant.getTime());
  }
}

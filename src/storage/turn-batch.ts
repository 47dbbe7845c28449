/**
 * What callers ask for in one turn of the event loop, handed to `flush` together when the turn ends
 * (setImmediate): the seats of a stage ask at once, and one statement serves them all. Every caller
 * of a turn gets the same promise: `flush`'s result, or its error.
 */
export class TurnBatch<B, R> {
  #open: { batch: B; result: Promise<R> } | null = null;

  constructor(
    private readonly empty: () => B,
    private readonly flush: (batch: B) => Promise<R>,
  ) {}

  /** Adds to this turn's batch (`add` fills it) and returns what its flush will give. */
  join(add: (batch: B) => void): Promise<R> {
    if (!this.#open) {
      const batch = this.empty();
      const result = new Promise<R>((resolve, reject) => {
        setImmediate(() => {
          this.#open = null;
          this.flush(batch).then(resolve, reject);
        });
      });
      this.#open = { batch, result };
    }
    add(this.#open.batch);
    return this.#open.result;
  }
}

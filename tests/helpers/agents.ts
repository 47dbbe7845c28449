import type { App } from '../../src/app.js';
import type { PortfolioManager } from '../../src/ports/agents.js';
import type { Direction } from '../../src/schemas/index.js';

export interface ForcedTrade {
  ticker: string;
  direction: Direction;
  conviction: number;
}

/** A PM that pitches its usual pitch with the selected trade replaced (ranking untouched). */
export function pmTrading(inner: PortfolioManager, trade: () => ForcedTrade): PortfolioManager {
  return {
    seat: inner.seat,
    async pitch(ctx, research, opts) {
      const result = await inner.pitch(ctx, research, opts);
      const t = trade();
      return { ...result, output: { ...result.output, selected_trade: { ...result.output.selected_trade, ...t } } };
    },
    review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
    checkpoint: (ctx, opts) => inner.checkpoint(ctx, opts),
  };
}

/** A PM that answers EXIT at every checkpoint (its pitches and reviews unchanged). */
export function pmExitingAtCheckpoints(inner: PortfolioManager): PortfolioManager {
  return {
    seat: inner.seat,
    pitch: (ctx, research, opts) => inner.pitch(ctx, research, opts),
    review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
    async checkpoint(ctx, opts) {
      const result = await inner.checkpoint(ctx, opts);
      return { ...result, output: { ...result.output, action: 'EXIT', conviction_after: 0, reason: 'the test closes the position' } };
    },
  };
}

/** A PM whose pitches come with answer text, as an LLM seat's do (offline agents have none). */
export function pmAnswering(inner: PortfolioManager): PortfolioManager {
  return {
    seat: inner.seat,
    async pitch(ctx, research, opts) {
      const result = await inner.pitch(ctx, research, opts);
      return { ...result, raw: `Here is my pitch for ${ctx.week_id}:\n${JSON.stringify(result.output)}` };
    },
    review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
    checkpoint: (ctx, opts) => inner.checkpoint(ctx, opts),
  };
}

/** A PM whose pitch always fails (its reviews still work). */
export function failingPm(inner: PortfolioManager, why = 'provider returned 503 four times'): PortfolioManager {
  return {
    seat: inner.seat,
    pitch: () => Promise.reject(new Error(why)),
    review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
    checkpoint: (ctx, opts) => inner.checkpoint(ctx, opts),
  };
}

/** The App with some PM seats replaced. */
export function withPms(app: App, replace: Record<string, (inner: PortfolioManager) => PortfolioManager>): App {
  const pms = new Map([...app.agents.pms].map(([seat, pm]) => [seat, replace[seat] ? replace[seat](pm) : pm]));
  return { ...app, agents: { ...app.agents, pms } };
}

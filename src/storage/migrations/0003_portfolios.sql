-- Portfolios: every run, account, order, fill and position belongs to a named portfolio. What a
-- database held before is the `default` portfolio. The column default exists only for that backfill:
-- it is dropped again, so a write that forgets its portfolio fails instead of landing in `default`.
CREATE TABLE "portfolios" (
	"name" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"broker" text NOT NULL,
	"starting_cash" numeric(20, 6) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "portfolios" ("name", "kind", "broker", "starting_cash")
SELECT 'default', 'live', coalesce(min("broker"), 'sim'), coalesce(max("starting_cash"), 100000) FROM "accounts"
WHERE EXISTS (SELECT 1 FROM "accounts") OR EXISTS (SELECT 1 FROM "runs");--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "aggregates" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "decisions" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "portfolio" text;--> statement-breakpoint
UPDATE "events" SET "portfolio" = 'default' WHERE "week_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "fills" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "llm_calls" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "pitches" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "positions" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "review_labels" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "reviews" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "stage_runs" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "stage_runs" ADD COLUMN "attempt" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "sequence" integer;--> statement-breakpoint
ALTER TABLE "trade_intents" ADD COLUMN "portfolio" text NOT NULL DEFAULT 'default';--> statement-breakpoint
ALTER TABLE "accounts" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "aggregates" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "decisions" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "fills" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "llm_calls" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "orders" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "pitches" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "positions" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "review_labels" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "reviews" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "runs" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "stage_runs" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "trade_intents" ALTER COLUMN "portfolio" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "accounts" DROP CONSTRAINT "accounts_pkey";--> statement-breakpoint
ALTER TABLE "aggregates" DROP CONSTRAINT "aggregates_week_id_seat_pk";--> statement-breakpoint
ALTER TABLE "decisions" DROP CONSTRAINT "decisions_pkey";--> statement-breakpoint
ALTER TABLE "pitches" DROP CONSTRAINT "pitches_week_id_seat_pk";--> statement-breakpoint
ALTER TABLE "positions" DROP CONSTRAINT "positions_account_id_ticker_pk";--> statement-breakpoint
ALTER TABLE "review_labels" DROP CONSTRAINT "review_labels_week_id_reviewer_pitch_id_pk";--> statement-breakpoint
ALTER TABLE "reviews" DROP CONSTRAINT "reviews_week_id_reviewer_pitch_id_pk";--> statement-breakpoint
ALTER TABLE "runs" DROP CONSTRAINT "runs_pkey";--> statement-breakpoint
ALTER TABLE "stage_runs" DROP CONSTRAINT "stage_runs_week_id_stage_pk";--> statement-breakpoint
ALTER TABLE "trade_intents" DROP CONSTRAINT "trade_intents_week_id_checkpoint_account_id_pk";--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_portfolio_id_pk" PRIMARY KEY("portfolio","id");--> statement-breakpoint
ALTER TABLE "aggregates" ADD CONSTRAINT "aggregates_portfolio_week_id_seat_pk" PRIMARY KEY("portfolio","week_id","seat");--> statement-breakpoint
ALTER TABLE "decisions" ADD CONSTRAINT "decisions_portfolio_week_id_pk" PRIMARY KEY("portfolio","week_id");--> statement-breakpoint
ALTER TABLE "pitches" ADD CONSTRAINT "pitches_portfolio_week_id_seat_pk" PRIMARY KEY("portfolio","week_id","seat");--> statement-breakpoint
ALTER TABLE "positions" ADD CONSTRAINT "positions_portfolio_account_id_ticker_pk" PRIMARY KEY("portfolio","account_id","ticker");--> statement-breakpoint
ALTER TABLE "review_labels" ADD CONSTRAINT "review_labels_portfolio_week_id_reviewer_pitch_id_pk" PRIMARY KEY("portfolio","week_id","reviewer","pitch_id");--> statement-breakpoint
ALTER TABLE "reviews" ADD CONSTRAINT "reviews_portfolio_week_id_reviewer_pitch_id_pk" PRIMARY KEY("portfolio","week_id","reviewer","pitch_id");--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_portfolio_week_id_pk" PRIMARY KEY("portfolio","week_id");--> statement-breakpoint
ALTER TABLE "stage_runs" ADD CONSTRAINT "stage_runs_portfolio_week_id_stage_pk" PRIMARY KEY("portfolio","week_id","stage");--> statement-breakpoint
ALTER TABLE "trade_intents" ADD CONSTRAINT "trade_intents_portfolio_week_id_checkpoint_account_id_pk" PRIMARY KEY("portfolio","week_id","checkpoint","account_id");--> statement-breakpoint
ALTER TABLE "trade_intents" ALTER COLUMN "ticker" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "trade_intents" ALTER COLUMN "reference_price" DROP NOT NULL;--> statement-breakpoint
DROP INDEX "llm_calls_week_idx";--> statement-breakpoint
CREATE INDEX "llm_calls_week_idx" ON "llm_calls" USING btree ("portfolio","week_id","stage","seat");--> statement-breakpoint
CREATE INDEX "events_portfolio_week_idx" ON "events" USING btree ("portfolio","week_id","kind");--> statement-breakpoint
CREATE INDEX "fills_portfolio_account_idx" ON "fills" USING btree ("portfolio","account_id","filled_at");--> statement-breakpoint
CREATE INDEX "orders_portfolio_week_idx" ON "orders" USING btree ("portfolio","week_id","account_id","checkpoint");

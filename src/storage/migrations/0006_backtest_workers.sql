ALTER TABLE "backtests" ADD COLUMN "settings" jsonb;--> statement-breakpoint
ALTER TABLE "backtests" ADD COLUMN "config_digest" text;--> statement-breakpoint
ALTER TABLE "backtests" ADD COLUMN "error" text;
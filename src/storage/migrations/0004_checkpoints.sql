CREATE TABLE "checkpoint_runs" (
	"portfolio" text NOT NULL,
	"week_id" text NOT NULL,
	"checkpoint_at" timestamp with time zone NOT NULL,
	"date" text NOT NULL,
	"time" text NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkpoint_runs_portfolio_checkpoint_at_pk" PRIMARY KEY("portfolio","checkpoint_at")
);
--> statement-breakpoint
CREATE TABLE "checkpoint_updates" (
	"portfolio" text NOT NULL,
	"week_id" text NOT NULL,
	"checkpoint_at" timestamp with time zone NOT NULL,
	"account_id" integer NOT NULL,
	"owner" text NOT NULL,
	"agent" text NOT NULL,
	"status" text NOT NULL,
	"proposed_action" text,
	"action" text NOT NULL,
	"conviction_before" integer NOT NULL,
	"conviction_after" integer NOT NULL,
	"reason" text NOT NULL,
	"invalidation_fired" text,
	"claimed_invalidation" text,
	"trigger" jsonb,
	"position" jsonb,
	"indicators" jsonb NOT NULL,
	"order_ids" jsonb NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "checkpoint_updates_portfolio_checkpoint_at_account_id_pk" PRIMARY KEY("portfolio","checkpoint_at","account_id")
);
--> statement-breakpoint
CREATE INDEX "checkpoint_runs_week_idx" ON "checkpoint_runs" USING btree ("portfolio","week_id");--> statement-breakpoint
CREATE INDEX "checkpoint_updates_week_idx" ON "checkpoint_updates" USING btree ("portfolio","week_id");
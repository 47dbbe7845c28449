CREATE TABLE "accounts" (
	"id" integer PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"broker" text NOT NULL,
	"starting_cash" numeric(20, 6) NOT NULL,
	"cash" numeric(20, 6) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "aggregates" (
	"week_id" text NOT NULL,
	"seat" text NOT NULL,
	"mean_rank" double precision,
	"mean_score" double precision,
	"votes" integer NOT NULL,
	"review_count" integer NOT NULL,
	"rubric_means" jsonb NOT NULL,
	CONSTRAINT "aggregates_week_id_seat_pk" PRIMARY KEY("week_id","seat")
);
--> statement-breakpoint
CREATE TABLE "decisions" (
	"week_id" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"decision" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"idempotency_key" text NOT NULL,
	"week_id" text,
	"kind" text NOT NULL,
	"stage" text,
	"seat" text,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE TABLE "fills" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"client_order_id" text NOT NULL,
	"account_id" integer NOT NULL,
	"ticker" text NOT NULL,
	"side" text NOT NULL,
	"qty" numeric(20, 6) NOT NULL,
	"price" numeric(20, 6) NOT NULL,
	"commission" numeric(20, 6) NOT NULL,
	"filled_at" timestamp with time zone NOT NULL,
	CONSTRAINT "fills_client_order_id_unique" UNIQUE("client_order_id")
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"client_order_id" text PRIMARY KEY NOT NULL,
	"account_id" integer NOT NULL,
	"week_id" text NOT NULL,
	"checkpoint" text NOT NULL,
	"action" text NOT NULL,
	"ticker" text NOT NULL,
	"side" text NOT NULL,
	"qty" numeric(20, 6) NOT NULL,
	"order_type" text NOT NULL,
	"status" text NOT NULL,
	"submitted_at" timestamp with time zone NOT NULL,
	"filled_at" timestamp with time zone,
	"filled_qty" numeric(20, 6),
	"filled_avg_price" numeric(20, 6),
	"commission" numeric(20, 6),
	"reject_reason" text,
	"broker_order_id" text
);
--> statement-breakpoint
CREATE TABLE "pitches" (
	"week_id" text NOT NULL,
	"seat" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"status" text NOT NULL,
	"pitch" jsonb,
	"error" text,
	CONSTRAINT "pitches_week_id_seat_pk" PRIMARY KEY("week_id","seat")
);
--> statement-breakpoint
CREATE TABLE "positions" (
	"account_id" integer NOT NULL,
	"ticker" text NOT NULL,
	"qty" numeric(20, 6) NOT NULL,
	"avg_entry_price" numeric(20, 6) NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "positions_account_id_ticker_pk" PRIMARY KEY("account_id","ticker")
);
--> statement-breakpoint
CREATE TABLE "review_labels" (
	"week_id" text NOT NULL,
	"reviewer" text NOT NULL,
	"pitch_id" text NOT NULL,
	"target_seat" text NOT NULL,
	CONSTRAINT "review_labels_week_id_reviewer_pitch_id_pk" PRIMARY KEY("week_id","reviewer","pitch_id")
);
--> statement-breakpoint
CREATE TABLE "reviews" (
	"week_id" text NOT NULL,
	"reviewer" text NOT NULL,
	"pitch_id" text NOT NULL,
	"target_seat" text NOT NULL,
	"status" text NOT NULL,
	"mean_score" double precision,
	"review" jsonb,
	"error" text,
	CONSTRAINT "reviews_week_id_reviewer_pitch_id_pk" PRIMARY KEY("week_id","reviewer","pitch_id")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"week_id" text PRIMARY KEY NOT NULL,
	"asof_et" text NOT NULL,
	"data_through" text NOT NULL,
	"fill_date" text NOT NULL,
	"mode" text NOT NULL,
	"seed" text NOT NULL,
	"status" text NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stage_runs" (
	"week_id" text NOT NULL,
	"stage" text NOT NULL,
	"status" text NOT NULL,
	"output" jsonb,
	"error" text,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	CONSTRAINT "stage_runs_week_id_stage_pk" PRIMARY KEY("week_id","stage")
);
--> statement-breakpoint
CREATE TABLE "trade_intents" (
	"week_id" text NOT NULL,
	"checkpoint" text NOT NULL,
	"account_id" integer NOT NULL,
	"owner" text NOT NULL,
	"ticker" text NOT NULL,
	"direction" text NOT NULL,
	"conviction" integer NOT NULL,
	"target_qty" numeric(20, 6) NOT NULL,
	"reference_price" numeric(20, 6) NOT NULL,
	"notes" text NOT NULL,
	CONSTRAINT "trade_intents_week_id_checkpoint_account_id_pk" PRIMARY KEY("week_id","checkpoint","account_id")
);

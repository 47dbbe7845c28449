CREATE TABLE "backtests" (
	"name" text PRIMARY KEY NOT NULL,
	"portfolio" text NOT NULL,
	"from_week" text NOT NULL,
	"to_week" text NOT NULL,
	"mode" text NOT NULL,
	"status" text NOT NULL,
	"weeks_total" integer NOT NULL,
	"weeks_done" integer NOT NULL,
	"report" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);

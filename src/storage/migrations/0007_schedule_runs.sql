CREATE TABLE "schedule_runs" (
	"portfolio" text NOT NULL,
	"slot" text NOT NULL,
	"kind" text NOT NULL,
	"week_id" text NOT NULL,
	"due_at" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"detail" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "schedule_runs_portfolio_slot_pk" PRIMARY KEY("portfolio","slot")
);
--> statement-breakpoint
CREATE INDEX "schedule_runs_due" ON "schedule_runs" USING btree ("portfolio","due_at");
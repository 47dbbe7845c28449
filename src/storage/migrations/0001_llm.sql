CREATE TABLE "llm_cache" (
	"key" text PRIMARY KEY NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "llm_calls" (
	"id" text PRIMARY KEY NOT NULL,
	"week_id" text NOT NULL,
	"stage" text NOT NULL,
	"seat" text NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"http_status" integer,
	"error" text,
	"latency_ms" integer NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"reasoning_tokens" integer NOT NULL,
	"cached_tokens" integer NOT NULL,
	"cost_usd" numeric(20, 10) NOT NULL,
	"cost_source" text NOT NULL,
	"usage" jsonb NOT NULL,
	"cache_key" text NOT NULL,
	"request" jsonb NOT NULL,
	"response_text" text,
	"citations" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "llm_calls_week_idx" ON "llm_calls" USING btree ("week_id","stage","seat");
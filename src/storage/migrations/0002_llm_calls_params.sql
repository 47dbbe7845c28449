-- The prompt and raw response of a call are kept once, in its 'llm_call' event; llm_calls keeps the
-- request's parameters for queries. Existing rows keep theirs (their events hold the rest).
ALTER TABLE "llm_calls" ADD COLUMN "params" jsonb;--> statement-breakpoint
UPDATE "llm_calls" SET "params" = COALESCE("request" -> 'params', '{}'::jsonb);--> statement-breakpoint
ALTER TABLE "llm_calls" ALTER COLUMN "params" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "llm_calls" DROP COLUMN "request";--> statement-breakpoint
ALTER TABLE "llm_calls" DROP COLUMN "response_text";

CREATE TABLE "market_calendar" (
	"date" text PRIMARY KEY NOT NULL,
	"open" text NOT NULL,
	"close" text NOT NULL,
	"session_open" text,
	"session_close" text,
	"open_at" timestamp with time zone NOT NULL,
	"close_at" timestamp with time zone NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "market_daily_bars" (
	"ticker" text NOT NULL,
	"date" text NOT NULL,
	"open" double precision NOT NULL,
	"high" double precision NOT NULL,
	"low" double precision NOT NULL,
	"close" double precision NOT NULL,
	"adj_close" double precision NOT NULL,
	"volume" bigint NOT NULL,
	"vwap" double precision,
	"trade_count" integer,
	"source" text NOT NULL,
	"feed" text NOT NULL,
	"adjustment" text NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL,
	CONSTRAINT "market_daily_bars_ticker_date_pk" PRIMARY KEY("ticker","date")
);
--> statement-breakpoint
CREATE TABLE "market_minute_bars" (
	"ticker" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"date" text NOT NULL,
	"open" double precision NOT NULL,
	"high" double precision NOT NULL,
	"low" double precision NOT NULL,
	"close" double precision NOT NULL,
	"volume" bigint NOT NULL,
	"vwap" double precision,
	"trade_count" integer,
	"feed" text NOT NULL,
	"fetched_at" timestamp with time zone NOT NULL,
	CONSTRAINT "market_minute_bars_ticker_ts_pk" PRIMARY KEY("ticker","ts")
);
--> statement-breakpoint
CREATE TABLE "market_sync_state" (
	"series" text PRIMARY KEY NOT NULL,
	"ticker" text,
	"feed" text,
	"adjustment" text,
	"first_date" text NOT NULL,
	"last_date" text NOT NULL,
	"synced_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "market_minute_bars_day" ON "market_minute_bars" USING btree ("ticker","date");
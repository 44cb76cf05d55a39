CREATE TABLE "unlock_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"email_canonical" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "reset_tokens" ADD COLUMN "superseded_by" text;
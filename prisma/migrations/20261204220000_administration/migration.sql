-- Administration (issue 23): Django's is_staff and is_superuser, and the indexes of the admin
-- list: one trigram index (pg_trgm) for its search, and one per ordering.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- AlterTable
ALTER TABLE "users" ADD COLUMN     "is_staff" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "is_superuser" BOOLEAN NOT NULL DEFAULT false;

-- The search: every word of it must appear, in any case, in the username, the e-mail or a name.
-- One lower-cased text of the four (a word has no space, so none matches across two of them),
-- searched with LIKE '%word%' (plugins/app/users-admin.ts). Prisma cannot declare an index on an
-- expression, and leaves this one alone (scripts/migrate.ts --check).
CREATE INDEX "users_search_trgm_idx" ON "users" USING GIN ((lower("username" || ' ' || "email" || ' ' || "first_name" || ' ' || "last_name")) gin_trgm_ops);

-- CreateIndex
CREATE INDEX "users_date_joined_idx" ON "users"("date_joined");

-- CreateIndex
CREATE INDEX "users_last_login_idx" ON "users"("last_login");

-- CreateIndex
CREATE INDEX "users_username_idx" ON "users"("username");

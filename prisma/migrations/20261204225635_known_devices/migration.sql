-- CreateTable
CREATE TABLE "known_devices" (
    "user_id" UUID NOT NULL,
    "device" VARCHAR(64) NOT NULL,
    "last_seen" BIGINT NOT NULL,
    "previous" BIGINT,

    CONSTRAINT "known_devices_pkey" PRIMARY KEY ("user_id","device")
);

-- CreateIndex
CREATE INDEX "known_devices_last_seen_idx" ON "known_devices"("last_seen");

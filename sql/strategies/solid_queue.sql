-- leasebench strategy: solid_queue
-- summary: Solid Queue: in a transaction, SELECT from a small ready table ORDER BY priority, job_id LIMIT k FOR UPDATE SKIP LOCKED; INSERT into claimed; DELETE from ready
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: true
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models rails/solid_queue (app/models/solid_queue/ready_execution.rb,
-- claim / select_and_lock / lock_candidates; claimed_execution.rb,
-- claiming / finished / release). Jobs live in one table; the work to do
-- lives in a small separate table of ready executions, so the claim scan
-- never reads the big jobs table. A worker claims in a transaction of
-- three statements: SELECT the ready rows (ORDER BY priority, job_id,
-- LIMIT n, FOR UPDATE SKIP LOCKED), INSERT one claimed execution per job,
-- DELETE the ready rows. A worker claims as many as it has free threads:
-- a batch strategy (`--batch`, default 10).
--
-- On due_work: due_work is the jobs table; @setup creates the ready and
-- claimed tables (due_work_solid_queue_ready, due_work_solid_queue_claimed,
-- each with Solid Queue's unique index on job_id and, for ready, its
-- polling index (priority, job_id)) and an AFTER INSERT trigger on
-- due_work that dispatches every new row into ready, as Solid Queue's
-- dispatch does for a job that is due. The lease returns the due_work id
-- (job_id) and run_at (copied into the ready row by the trigger, so the
-- claim never joins due_work). due_work itself is not touched at claim
-- time: a claimed job stays 'pending' there.
--
-- Completion: Solid Queue marks the job finished and destroys the claimed
-- execution in one transaction; here one statement does both (a
-- data-modifying CTE), setting status 'completed' so the audit sees it.
-- Expiry: Solid Queue releases the claimed executions of a process whose
-- heartbeat went stale (back into ready); the rescue here moves claimed
-- rows older than the lease back into ready, unless the job has been
-- completed meanwhile.
--
-- Differs from Solid Queue: no queues, pauses, concurrency limits or
-- scheduled executions (rows due in the future are dispatched at once);
-- process_id is the backend pid; priority runs the other way (higher
-- first). The side tables have no foreign keys to due_work (Solid Queue's
-- have): they outlive this strategy's cells, and an ON DELETE CASCADE
-- from due_work would tax every later strategy that deletes rows. They
-- are dropped and recreated by each cell's @setup, and are not analyzed
-- before the cell (leasebench analyzes due_work only).

-- @setup
DROP TABLE IF EXISTS due_work_solid_queue_ready;
DROP TABLE IF EXISTS due_work_solid_queue_claimed;
CREATE TABLE due_work_solid_queue_ready (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     bigint      NOT NULL,
    priority   integer     NOT NULL,
    run_at     timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX due_work_solid_queue_ready_job_id ON due_work_solid_queue_ready (job_id);
CREATE INDEX due_work_solid_queue_poll_all ON due_work_solid_queue_ready (priority DESC, job_id);
CREATE TABLE due_work_solid_queue_claimed (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     bigint      NOT NULL,
    process_id integer     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX due_work_solid_queue_claimed_job_id ON due_work_solid_queue_claimed (job_id);
CREATE OR REPLACE FUNCTION due_work_solid_queue_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO due_work_solid_queue_ready (job_id, priority, run_at) SELECT id, priority, run_at FROM dispatched; RETURN NULL; END $$;
CREATE TRIGGER due_work_solid_queue_dispatch AFTER INSERT ON due_work REFERENCING NEW TABLE AS dispatched FOR EACH STATEMENT EXECUTE FUNCTION due_work_solid_queue_dispatch();

-- @lease
SELECT job_id AS id, run_at
  FROM due_work_solid_queue_ready
 ORDER BY priority DESC, job_id ASC
 LIMIT {batch}
   FOR UPDATE SKIP LOCKED;
INSERT INTO due_work_solid_queue_claimed (job_id, process_id)
SELECT unnest($1::bigint[]), pg_backend_pid();
DELETE FROM due_work_solid_queue_ready WHERE job_id = ANY($1);

-- @complete
WITH finished AS (
    UPDATE due_work
       SET status = 'completed', finished_at = now()
     WHERE id = ANY($1)
    RETURNING id)
DELETE FROM due_work_solid_queue_claimed
 WHERE job_id IN (SELECT id FROM finished);

-- @rescue
WITH released AS (
    DELETE FROM due_work_solid_queue_claimed
     WHERE created_at < now() - interval '{lease_ms} milliseconds'
    RETURNING job_id)
INSERT INTO due_work_solid_queue_ready (job_id, priority, run_at)
SELECT d.id, d.priority, d.run_at
  FROM released
  JOIN due_work AS d ON d.id = released.job_id
 WHERE d.status <> 'completed';

-- leasebench strategy: apalis
-- summary: apalis get_jobs: UPDATE ... WHERE id IN (SELECT id ... ORDER BY priority DESC, run_at LIMIT k FOR UPDATE SKIP LOCKED) RETURNING; single-column indexes
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models apalis-dev/apalis-postgres (migrations: apalis.get_jobs, latest
-- version; queries/task/ack.sql; queries/backend/reenqueue_orphaned.sql).
-- One statement: UPDATE ... SET status, lock_by, lock_at WHERE id IN (a
-- subquery taking up to `buffer_size` pending, due jobs -- or failed ones
-- with attempts left -- ORDER BY priority DESC, run_at, LIMIT n, FOR
-- UPDATE SKIP LOCKED) RETURNING *. The IN-subquery form is the one Oban's
-- fetch comment warns about: the planner may join it in ways that run the
-- LIMIT subquery more than once. apalis fetches buffer_size jobs at a time
-- (10 unless configured): a batch strategy (`--batch`, default 10).
--
-- Index: apalis creates only single-column indexes on its jobs table
-- (status, job_type, lock_by, id); the ones that matter here are on
-- status and lock_by. Nothing covers the ORDER BY: every fetch sorts all
-- pending rows. While most rows are pending the status index does not
-- narrow anything, and the planner seq-scans the table (completed rows
-- included) and sorts: the slowest lease of the presets at 50 workers.
-- The IN-subquery is run once here (a HashAggregate over its ids, then the
-- primary key), not once per row.
--
-- Completion: apalis acks each job with UPDATE ... SET status = 'Done'
-- WHERE id = $1 AND lock_by = <worker id>; leasebench has no stable
-- worker id to fence with (a backend pid changes on reconnect), so all
-- ids of a fetch are completed by id alone, in one UPDATE. Expiry: apalis
-- re-enqueues Running/Queued jobs whose worker's heartbeat is stale; the
-- rescue here does that when the lease has passed.
--
-- Differs from apalis: apalis sets 'Queued' at fetch and 'Running' when the
-- task starts; here one 'running'. Ids are bigint, not ULID text; no job_type.

-- @setup
CREATE INDEX due_work_apalis_status ON due_work (status);
CREATE INDEX due_work_apalis_lock_by ON due_work (locked_by);

-- @lease
UPDATE due_work
   SET status = 'running',
       locked_by = 'apalis:' || pg_backend_pid(),
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id IN (
        SELECT id
          FROM due_work
         WHERE (status = 'pending' OR (status = 'failed' AND attempts < 25))
           AND run_at < now()
         ORDER BY priority DESC, run_at ASC
         LIMIT {batch}
           FOR UPDATE SKIP LOCKED)
RETURNING id, run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = ANY($1);

-- @rescue
UPDATE due_work
   SET status = 'pending', locked_by = NULL, locked_until = NULL
 WHERE status = 'running'
   AND locked_until < now();

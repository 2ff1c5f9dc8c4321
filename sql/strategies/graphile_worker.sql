-- leasebench strategy: graphile_worker
-- summary: Graphile Worker's get_job: CTE over the is_available partial index ORDER BY priority, run_at LIMIT 1 FOR UPDATE SKIP LOCKED, UPDATE sets locked_at/locked_by; completion deletes
-- safe: true
-- batch: false
-- consume: false
-- lease_txn: false
-- completes_by_delete: true
-- lease_ends_with_connection: false
--
-- Models graphile/worker (src/sql/getJobs.ts, named-queue strategy off).
-- One statement: a CTE picks available jobs (`is_available`, a stored
-- generated column: locked_at IS NULL AND attempts < max_attempts) that
-- are due, ORDER BY priority, run_at, with FOR UPDATE SKIP LOCKED; an
-- UPDATE ... FROM the CTE sets locked_by/locked_at and bumps attempts.
-- No status column: a job is leased because it is locked, done because it
-- is deleted.
--
-- Batch size: Graphile fetches one job per worker per query unless its local
-- queue is turned on (then `LIMIT localQueue.size`); this models the
-- default, LIMIT 1. The batch strategy shows what batching buys.
--
-- On due_work: locked_until plays locked_at (set to now() + lease rather
-- than now(); "locked_at older than 4 h" becomes "locked_until passed"),
-- and is_available is spelled out as the partial index predicate
-- `locked_until IS NULL AND attempts < 25` (25 is Graphile's default
-- max_attempts) rather than added to due_work as a generated column (that
-- would outlive the cell and tax every other strategy). The index is
-- Graphile's jobs_main_index: (priority, run_at) INCLUDE (id, task_id ...)
-- WHERE is_available. status stays 'pending' throughout, as Graphile has
-- none; the audit tells live leases by locked_until.
--
-- Completion: DELETE (Graphile's complete_jobs; batched there with
-- completeJobBatchDelay). Expiry: Graphile resets locked_at/locked_by of
-- jobs locked for over 4 h; the rescue here clears locks whose lease
-- passed. It has no index to use, so it scans due_work (Graphile runs its
-- reset every few minutes; leasebench runs rescues every lease/4, at most
-- once a second).

-- @setup
CREATE INDEX due_work_graphile_worker_main ON due_work (priority DESC, run_at) INCLUDE (id, task_id)
    WHERE locked_until IS NULL AND attempts < 25;

-- @lease
WITH j AS (
    SELECT id
      FROM due_work
     WHERE locked_until IS NULL
       AND attempts < 25
       AND run_at <= now()
     ORDER BY priority DESC, run_at ASC
     LIMIT 1
       FOR UPDATE SKIP LOCKED)
UPDATE due_work AS d
   SET attempts = d.attempts + 1,
       locked_by = 'graphile:' || pg_backend_pid(),
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now()
  FROM j
 WHERE d.id = j.id
RETURNING d.id, d.run_at;

-- @complete
DELETE FROM due_work WHERE id = $1;

-- @rescue
UPDATE due_work
   SET locked_until = NULL, locked_by = NULL
 WHERE locked_until < now();

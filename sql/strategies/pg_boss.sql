-- leasebench strategy: pg_boss
-- summary: pg-boss fetchNextJob: CTE WHERE state < 'active' AND start_after <= now() ORDER BY priority DESC, created_on, id LIMIT 1 FOR UPDATE OF j SKIP LOCKED, UPDATE sets active
-- safe: true
-- batch: false
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models timgit/pg-boss (src/plans.ts, fetchNextJob; completeJobs;
-- the expire/timeout maintenance). One statement: a CTE picks the next
-- created-or-retry job (state < 'active') whose start_after has come,
-- ORDER BY priority DESC, created_on, id, with FOR UPDATE OF j SKIP
-- LOCKED, and an UPDATE ... FROM the CTE sets state 'active', started_on
-- and the retry count. pg-boss's work() and fetch() take batchSize, 1 by
-- default: this models the default (LIMIT 1).
--
-- Index: pg-boss's job_i5, (name, start_after) WHERE state < 'active' AND
-- NOT blocked; due_work has one queue and no blocking, so (run_at) WHERE
-- status = 'pending'. It finds the due rows but not in the ORDER BY's
-- order (created_on is not in it, nor is priority first): every lease
-- reads the due rows and sorts them (pg-boss issue 228: 1.3 s at 3M rows).
-- With `--index none` the planner prefers a seq scan and a full sort (the
-- index does not narrow anything while nearly every pending row is due);
-- with the default index variant, pending_partial (priority DESC, run_at),
-- it walks that index and sorts each priority group by created_at
-- (Incremental Sort), so a lease still reads the whole top-priority group,
-- a fifth of the queue.
--
-- Completion: completeJobs sets state 'completed' and completed_on for
-- jobs still 'active'. Expiry: pg-boss moves jobs active for longer than
-- expireInSeconds (15 min by default) by started_on back to 'retry'; the
-- rescue here does that after the lease length. A late completion of a
-- job already moved back completes nothing (pg-boss would run it again);
-- leasebench counts that completion as done, so with --work-ms above
-- --lease-ms such items show up as lost.
--
-- Differs from pg-boss: no queue name, singleton, group or dependency
-- clauses; ids are bigint, not uuid; retry_count is attempts here.

-- @setup
CREATE INDEX due_work_pg_boss_fetch ON due_work (run_at) WHERE status = 'pending';

-- @lease
WITH next AS (
    SELECT j.id
      FROM due_work AS j
     WHERE j.status = 'pending'
       AND j.run_at <= now()
     ORDER BY j.priority DESC, j.created_at, j.id
     LIMIT 1
       FOR UPDATE OF j SKIP LOCKED)
UPDATE due_work AS j
   SET status = 'running',
       started_at = now(),
       locked_until = now() + interval '{lease_ms} milliseconds',
       attempts = j.attempts + 1
  FROM next
 WHERE j.id = next.id
RETURNING j.id, j.run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = $1
   AND status = 'running';

-- @rescue
UPDATE due_work
   SET status = 'pending', locked_until = NULL
 WHERE status = 'running'
   AND started_at < now() - interval '{lease_ms} milliseconds';

-- leasebench strategy: advisory
-- summary: que 0.x: read-only recursive CTE walks (priority DESC, run_at, id) calling pg_try_advisory_lock(id) until one succeeds; session lock, no row write at lease
-- safe: true
-- batch: false
-- consume: false
-- lease_txn: false
-- completes_by_delete: true
-- lease_ends_with_connection: true
--
-- Models que's lock_job (que-rb/que, lib/que/sql.rb at v0.14.3). The lease
-- writes nothing: a recursive CTE steps through the pending rows one index
-- probe at a time, in queue order, and calls pg_try_advisory_lock(id) on
-- each until one succeeds. The outer `WHERE locked LIMIT 1` (and the
-- recursion's own `NOT walk.locked`) stop the walk at the first lock taken,
-- so one statement keeps at most one advisory lock. The lock is held by the
-- session: it lasts until the worker unlocks it (after completing, or on
-- release), or until the connection ends, which is how a crashed worker's
-- item comes back: no expiry, no rescuer.
--
-- The race que guards against with its separate check_job query: the walk
-- reads a snapshot taken when the statement began; another worker may
-- complete (delete) a row and unlock it after that snapshot but before the
-- walk reaches it, and the walk then locks a row that is already done.
-- Here the check is inside the walk: each lock taken is followed by
-- due_work_advisory_recheck(), which is VOLATILE, so its query runs on a
-- fresh snapshot taken after the lock was acquired; if the row is gone (or
-- no longer pending) it unlocks it and the walk goes on to the next row, so
-- no stray lock is left and the worker does not see an empty poll. (que
-- instead unlocks and starts over. Without the check, 4% of leases at 10
-- to 50 workers handed out rows another worker had already deleted.)
--
-- Completion deletes the row and then unlocks, as que 0.x does (destroy_job,
-- then pg_advisory_unlock); the lock is held until the row is gone, so no
-- one can take it in between. Release (when a worker gives a lease up)
-- only unlocks.
--
-- Differs from que: que orders (priority, run_at, job_id) ascending with a
-- row comparison on the primary key; due_work's priority runs the other way
-- (higher first), so the walk uses an expression index on (-priority,
-- run_at, id) and compares (-priority, run_at, id) rows; que 1.x marks
-- finished_at instead of deleting. Advisory lock keys are bare ids, shared
-- by the whole database: two leasebench schemas running this strategy on
-- one server at once would contend on equal ids (never unsafe, just
-- slower), as two que installs in one database would.

-- @setup
CREATE INDEX due_work_advisory_walk ON due_work ((-priority), run_at, id) WHERE status = 'pending';
CREATE OR REPLACE FUNCTION due_work_advisory_recheck(job bigint) RETURNS boolean
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM due_work WHERE id = job AND status = 'pending')
                THEN true
                ELSE NOT pg_advisory_unlock(job)
           END
$$;

-- @lease
WITH RECURSIVE walk AS (
    SELECT (j).id, (j).priority, (j).run_at,
           CASE WHEN pg_try_advisory_lock((j).id) THEN due_work_advisory_recheck((j).id) ELSE false END AS locked
      FROM (SELECT j
              FROM due_work AS j
             WHERE status = 'pending'
               AND run_at <= now()
             ORDER BY -priority, run_at, id
             LIMIT 1) AS first
    UNION ALL (
    SELECT (j).id, (j).priority, (j).run_at,
           CASE WHEN pg_try_advisory_lock((j).id) THEN due_work_advisory_recheck((j).id) ELSE false END AS locked
      FROM (SELECT (SELECT j
                      FROM due_work AS j
                     WHERE status = 'pending'
                       AND run_at <= now()
                       AND (-j.priority, j.run_at, j.id) > (-walk.priority, walk.run_at, walk.id)
                     ORDER BY -priority, run_at, id
                     LIMIT 1) AS j
              FROM walk
             WHERE walk.id IS NOT NULL
               AND NOT walk.locked
             LIMIT 1) AS next)
)
SELECT id, run_at FROM walk WHERE locked LIMIT 1;

-- @complete
DELETE FROM due_work WHERE id = $1;
SELECT pg_advisory_unlock($1);

-- @release
SELECT pg_advisory_unlock($1);

-- @rescue
-- Nothing expires: a lease ends with its unlock or its connection. (An
-- empty section: no rescuer, so the default one does not scan for expired
-- 'running' rows this strategy never makes.)

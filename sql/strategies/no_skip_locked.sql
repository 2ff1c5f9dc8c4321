-- leasebench strategy: no_skip_locked
-- summary: update_returning with plain FOR UPDATE (no SKIP LOCKED): workers queue on the head row's lock and re-check it (the contention baseline)
-- safe: true
-- batch: false
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- What queues did before SKIP LOCKED (9.5), and what sqlxmq and pg-boss's
-- noSkipLocked mode still do. Every worker's subquery walks the index to
-- the same first pending row and waits on its row lock. When the holder
-- commits, Postgres re-reads the newest version of the row and re-checks
-- the subquery's WHERE on it (EvalPlanQual); the row is now 'running', so
-- the walk moves on to the next row, and usually waits again. A row that
-- fails the re-check stays locked by the waiter until its statement ends,
-- so completions can wait behind lessees too.
--
-- Exactly-once: a row is returned only if its newest version passed the
-- predicate while this statement held its lock, and the lock is held until
-- the UPDATE commits. The outer `AND status = 'pending'` re-checks once
-- more on the version the UPDATE sees; if that fails, the statement updates
-- nothing and returns no row, which the worker counts as an empty poll.
--
-- Differs from pg-boss's noSkipLocked mode, which has no FOR UPDATE at all:
-- its UPDATE waits on the row the loser also picked, re-checks
-- `state < 'active'` and returns nothing. Same queueing, fewer retries
-- inside the statement.

-- @lease
UPDATE due_work
   SET status = 'running',
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id = (
        SELECT id
          FROM due_work
         WHERE status = 'pending'
           AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY priority DESC, run_at ASC
         LIMIT 1
           FOR UPDATE)
   AND status = 'pending'
RETURNING id, run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = $1;

-- pgbench custom script: one leasebench cycle of the update_returning
-- strategy (sql/strategies/update_returning.sql, {lease_ms} = 300000, the
-- default), as one pgbench "transaction": lease one item, then complete it.
-- No simulated work (leasebench's default --work-ms 0).
--
-- Used by scripts/vs-pgbench.sh, which checks that the two statements below
-- still match sql/strategies/update_returning.sql (whitespace aside) and
-- runs pgbench with PGOPTIONS='-c search_path=leasebench', as leasebench's
-- connections have.
--
-- \gset needs exactly one row: if the queue runs dry the lease returns none
-- and pgbench aborts that client. vs-pgbench.sh seeds enough items that a
-- run cannot drain the queue, and checks afterwards that it did not.

-- @lease
UPDATE due_work
   SET status = 'running',
       locked_until = now() + interval '300000 milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id = (
        SELECT id
          FROM due_work
         WHERE status = 'pending'
           AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY priority DESC, run_at ASC
           FOR UPDATE SKIP LOCKED
         LIMIT 1)
RETURNING id, run_at
\gset

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = :id;

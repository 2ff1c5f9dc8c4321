-- leasebench index: pending_partial
-- summary: partial btree (priority DESC, run_at) WHERE status = 'pending' (the default)
CREATE INDEX due_work_pending_partial ON due_work (priority DESC, run_at) WHERE status = 'pending';

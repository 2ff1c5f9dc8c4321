-- leasebench index: status_btree
-- summary: plain btree on (status): finds pending rows, but the ORDER BY needs a sort
CREATE INDEX due_work_status ON due_work (status);

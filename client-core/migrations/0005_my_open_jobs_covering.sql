-- "My open jobs by priority" read from the index alone, already in list order: the index holds
-- every column a list shows, ending with the number that breaks ties. Replaces the narrower
-- index that made the query look up each row in the table and sort the ties (about 20 ms for
-- 6,667 jobs, against about 3 ms now).
DROP INDEX work_orders_my_open;
CREATE INDEX work_orders_my_open ON work_orders (
    assignee, open, priority, resolution_due, number,
    id, status, customer_name, tier, region, category, created_at, response_due,
    schedule_start, conflicts
);

-- Contacts per customer in the 24 hours before as_of.
-- The ONE definition of this answer: run as is by Spark SQL over the gold.* views
-- (lake.gold.answers.run_query) and by delta-rs's DataFusion engine, each gold.<table> read
-- as registered by name (lake.gold.fast.answer). Keep to the SQL both engines share.
-- Placeholders (lake.gold.rules.render_query), exact UTC instants:
--   ${as_of}        CAST('yyyy-MM-ddTHH:mm:ss.ffffffZ' AS TIMESTAMP)
--   ${window_start} as_of minus 24 elapsed hours, same form
-- Window: window_start < started_at <= as_of.
-- Interactions of the unknown customer (key -1, no usable e-mail) are not counted.
SELECT c.customer_email, COUNT(*) AS contacts
FROM gold.fact_interaction f
JOIN gold.dim_customer c ON c.customer_key = f.customer_key
WHERE f.customer_key <> -1
  AND f.started_at > ${window_start}
  AND f.started_at <= ${as_of}
GROUP BY c.customer_email
ORDER BY c.customer_email;

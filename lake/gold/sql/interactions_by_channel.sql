-- All interactions of each channel per customer, up to as_of.
-- The ONE definition of this answer: run as is by Spark SQL over the gold.* views
-- (lake.gold.answers.run_query) and by delta-rs's DataFusion engine, each gold.<table> read
-- as registered by name (lake.gold.fast.answer). Keep to the SQL both engines share.
-- Placeholder (lake.gold.rules.render_query): ${as_of} = CAST('yyyy-MM-ddTHH:mm:ss.ffffffZ'
-- AS TIMESTAMP), an exact UTC instant.
-- Interactions of the unknown customer (key -1, no usable e-mail) are left out.
SELECT c.customer_email,
       ch.channel,
       COUNT(*)          AS interactions,
       MIN(f.started_at) AS first_started_at,
       MAX(f.started_at) AS last_started_at
FROM gold.fact_interaction f
JOIN gold.dim_customer c ON c.customer_key = f.customer_key
JOIN gold.dim_channel ch ON ch.channel_key = f.channel_key
WHERE f.customer_key <> -1
  AND f.started_at <= ${as_of}
GROUP BY c.customer_email, ch.channel
ORDER BY c.customer_email, ch.channel;

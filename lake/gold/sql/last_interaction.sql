-- The last interaction of each customer up to as_of, and its channel.
-- The ONE definition of this answer: run as is by Spark SQL over the gold.* views
-- (lake.gold.answers.run_query) and by delta-rs's DataFusion engine, each gold.<table> read
-- as registered by name (lake.gold.fast.answer). Keep to the SQL both engines share.
-- Placeholder (lake.gold.rules.render_query): ${as_of} = CAST('yyyy-MM-ddTHH:mm:ss.ffffffZ'
-- AS TIMESTAMP), an exact UTC instant.
-- Ties: latest started_at, then latest ended_at (null last), then channel priority
-- (dim_channel.priority, from the configuration's channels: 1 first), then smallest interaction_id.
WITH ranked AS (
  SELECT c.customer_email,
         ch.channel,
         f.started_at,
         ROW_NUMBER() OVER (
           PARTITION BY c.customer_email
           ORDER BY f.started_at DESC, f.ended_at DESC NULLS LAST, ch.priority ASC, f.interaction_id ASC
         ) AS rn
  FROM gold.fact_interaction f
  JOIN gold.dim_customer c ON c.customer_key = f.customer_key
  JOIN gold.dim_channel ch ON ch.channel_key = f.channel_key
  WHERE f.customer_key <> -1
    AND f.started_at <= ${as_of}
)
SELECT customer_email, channel, started_at
FROM ranked
WHERE rn = 1
ORDER BY customer_email;

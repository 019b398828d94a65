-- All interactions of each channel per customer, up to ${as_of}.
-- Spark SQL over the gold views (lake.gold.answers.register_gold_views).
-- Placeholders: ${as_of} = 'yyyy-MM-dd HH:mm:ss' read in ${timezone} (the source time zone).
-- Interactions of the unknown customer (key -1, no usable e-mail) are left out.
WITH params AS (
  SELECT to_timestamp('${as_of} ${timezone}', 'yyyy-MM-dd HH:mm:ss VV') AS as_of
)
SELECT c.customer_email,
       ch.channel,
       COUNT(*)          AS interactions,
       MIN(f.started_at) AS first_started_at,
       MAX(f.started_at) AS last_started_at
FROM gold.fact_interaction f
JOIN gold.dim_customer c ON c.customer_key = f.customer_key
JOIN gold.dim_channel ch ON ch.channel_key = f.channel_key
CROSS JOIN params p
WHERE f.customer_key <> -1
  AND f.started_at <= p.as_of
GROUP BY c.customer_email, ch.channel
ORDER BY c.customer_email, ch.channel;

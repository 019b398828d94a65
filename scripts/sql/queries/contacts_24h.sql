-- Contacts per customer in the 24 hours before ${as_of}.
-- Spark SQL over the gold views (lake.gold.answers.register_gold_views).
-- Placeholders: ${as_of} = 'yyyy-MM-dd HH:mm:ss' read in ${timezone} (the source time zone,
-- e.g. America/Sao_Paulo). Window: as_of - 24 hours < started_at <= as_of.
-- Interactions of the unknown customer (key -1, no usable e-mail) are not counted.
WITH params AS (
  SELECT to_timestamp('${as_of} ${timezone}', 'yyyy-MM-dd HH:mm:ss VV') AS as_of
)
SELECT c.customer_email, COUNT(*) AS contacts
FROM gold.fact_interaction f
JOIN gold.dim_customer c ON c.customer_key = f.customer_key
CROSS JOIN params p
WHERE f.customer_key <> -1
  AND f.started_at > p.as_of - INTERVAL 24 HOURS
  AND f.started_at <= p.as_of
GROUP BY c.customer_email
ORDER BY c.customer_email;

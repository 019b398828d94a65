"""Gold: the customer-experience Kimball star, the three answers, the cooperative's flat file.

Modules:
    :mod:`lake.gold.functions`: ``Column -> Column`` helpers shared by the gold modules.
    :mod:`lake.gold.star`: ``dim_*`` and ``fact_interaction`` (see ``docs/model.md``).
    :mod:`lake.gold.answers`: the three questions, as DataFrames, gold tables and SQL.
    :mod:`lake.gold.rules`: the answers' engine-neutral rules: SQL text (``sql/*.sql``),
        ``as_of`` and the printed output (pure Python).
    :mod:`lake.gold.fast`: the answers and table reads through delta-rs, without Spark.
    :mod:`lake.gold.flat`: ``movimento_flat`` and its atomic single-file CSV export.
"""

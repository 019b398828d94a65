"""spark-submit entry point: the gold layer.

    spark-submit jobs/gold.py [--pipeline customer_experience|cooperative|all] [--lake-root DIR] ...
"""

from _common import submit

if __name__ == "__main__":
    submit(["run", "--layer", "gold"])

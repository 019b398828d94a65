"""spark-submit entry point: the silver layer.

    spark-submit jobs/silver.py [--pipeline customer_experience|cooperative|all] [--lake-root DIR] ...
"""

from _common import submit

if __name__ == "__main__":
    submit(["run", "--layer", "silver"])

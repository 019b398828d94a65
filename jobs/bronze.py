"""spark-submit entry point: the bronze layer.

    spark-submit jobs/bronze.py [--pipeline customer_experience|cooperative|all] [--lake-root DIR] ...
"""

from _common import submit

if __name__ == "__main__":
    submit(["run", "--layer", "bronze"])

"""spark-submit entry point: keep the lake current, a micro-batch every few seconds (lake watch).

    spark-submit jobs/watch.py [--pipeline customer_experience] [--interval 5] [--lake-root DIR] [--landing DIR]

The driver runs until it receives SIGTERM/SIGINT (the batch under way finishes, exit 0).
"""

from _common import submit

if __name__ == "__main__":
    submit(["watch"])

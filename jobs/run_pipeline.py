"""spark-submit entry point: every layer of the chosen pipelines (the main job).

    spark-submit jobs/run_pipeline.py [--pipeline all] [--lake-root DIR] [--landing DIR] [--jdbc-url URL]
"""

from _common import submit

if __name__ == "__main__":
    submit(["run"])

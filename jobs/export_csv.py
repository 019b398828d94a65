"""spark-submit entry point: write movimento_flat.csv into --output-dir.

    spark-submit jobs/export_csv.py --output-dir DIR [--lake-root DIR]
"""

from _common import submit

if __name__ == "__main__":
    submit(["export-csv"])

"""The pipeline: config -> plan -> preflight -> execute -> summarise -> store -> report."""

"""One run as visible stages (bench.run.stages): open and preflight -> plan or resume -> build -> evaluation
images -> measure (alone, together, frame by frame) -> outcome; each result stored as it is measured."""

"""ImageNet val: layouts, deterministic subsets, preprocessing and its cache, accuracy scoring."""

"""Model zoo (real pretrained weights), variant builders and the variant cache."""

"""`lake verify`: the post-deploy check that data flows end to end (AWS or local mode)."""

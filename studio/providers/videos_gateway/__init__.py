"""Route 4: the /v1/videos gateway (seed 004): adapter, simulator, prices and tests side by side."""
